// The layout rules of src/ (ARCHITECTURE.md), checked on the source itself:
// no import cycle, host/ and worker/ never import each other, the file map of
// ARCHITECTURE.md names every file, and no comment points to a file that is
// not in the repository.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(repo, 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

const files = sourceFiles(src).map((path) => relative(src, path)).sort()

/** Every relative import of a file (static, `export … from`, dynamic), as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(src, file), 'utf8')
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.[^'"]+)['"]/gm)].map((m) => m[1]!)
  return specifiers.map((specifier) => {
    const target = relative(src, resolve(dirname(join(src, file)), specifier)).replace(/\.js$/, '.ts')
    if (!files.includes(target)) throw new Error(`${file} imports ${specifier}, which is not a file of src/ (${target})`)
    return target
  })
}

const graph = new Map(files.map((file) => [file, importsOf(file)]))

/** The cycles of the graph, each once, as the files along it. */
function cycles(): string[][] {
  const found: string[][] = []
  const done = new Set<string>()
  const path: string[] = []
  const visit = (file: string) => {
    const at = path.indexOf(file)
    if (at !== -1) {
      found.push([...path.slice(at), file])
      return
    }
    if (done.has(file)) return
    path.push(file)
    for (const next of graph.get(file) ?? []) visit(next)
    path.pop()
    done.add(file)
  }
  for (const file of files) visit(file)
  return found
}

test('the import graph of src/ is read: every file, and the imports between them', () => {
  // A parser that found nothing would pass every check below.
  expect(files).toContain('host/respawning-worker.ts')
  expect(graph.get('worker/runner.ts')).toContain('worker/guard.ts')
  expect(graph.get('host/plugin.ts')).toContain('shared/options.ts')
})

test('src/ has no import cycle', () => {
  expect(cycles().map((cycle) => cycle.join(' -> '))).toEqual([])
})

test('host/, worker/ and browser/ never import each other, and shared/ imports none of them', () => {
  const sides = new Set(['host', 'worker', 'browser'])
  const crossing: string[] = []
  for (const [file, imports] of graph) {
    const side = file.split('/')[0]!
    for (const target of imports) {
      const other = target.split('/')[0]!
      if ((sides.has(side) && sides.has(other) && side !== other) || (side === 'shared' && other !== 'shared')) crossing.push(`${file} -> ${target}`)
    }
  }
  expect(crossing).toEqual([])
})

test("ARCHITECTURE.md's file map names every file of src/, and no file that is gone", () => {
  const architecture = readFileSync(join(repo, 'ARCHITECTURE.md'), 'utf8')
  const map = architecture.slice(architecture.indexOf('## File map'))
  expect(map).not.toBe(architecture)
  // One line per file: "- `host/plugin.ts`: what it does".
  const named = new Set([...map.matchAll(/^- `([\w/.-]+\.ts)`:/gm)].map((m) => m[1]!))
  expect(files.filter((file) => !named.has(file))).toEqual([])
  expect([...named].filter((file) => !files.includes(file))).toEqual([])
})

test('no comment points to a file outside the repository', () => {
  // A path named in src/ ("shared/stop.ts", "README.md") is one of the repository's files.
  const dangling: string[] = []
  for (const file of files) {
    const text = readFileSync(join(src, file), 'utf8')
    for (const [, path] of text.matchAll(/(?<![\w./-])((?:\.\.\/|[\w-]+\/)*[\w-]+\.(?:ts|md))\b/g)) {
      const candidates = [join(src, dirname(file), path!), join(src, file.split('/')[0]!, path!), join(src, path!), join(repo, path!)]
      if (!candidates.some((candidate) => existsSync(candidate.replace(/\.js$/, '.ts')))) dangling.push(`${file}: ${path}`)
    }
  }
  expect(dangling).toEqual([])
})
