import { afterEach, expect, test } from 'vitest'
import { oneLine } from '../src/shared/one-line.js'

const githubActions = process.env.GITHUB_ACTIONS
afterEach(() => {
  if (githubActions === undefined) delete process.env.GITHUB_ACTIONS
  else process.env.GITHUB_ACTIONS = githubActions
})

test('control characters are escaped, so user text stays on its line', () => {
  delete process.env.GITHUB_ACTIONS
  expect(oneLine('a\nb\r\tc')).toBe('a\\nb\\r\\tc')
  expect(oneLine('\u001b[2Jred\u007f\u0085')).toBe('\\x1b[2Jred\\x7f\\x85')
  expect(oneLine('line\u2028separator\u2029')).toBe('line\\u2028separator\\u2029')
  expect(oneLine('C:\\tests\\a.test.ts > plain name')).toBe('C:\\tests\\a.test.ts > plain name')
})

test('under GitHub Actions, text can never begin a workflow command', () => {
  process.env.GITHUB_ACTIONS = 'true'
  expect(oneLine('::error file=x.ts,line=1::pwned')).toBe('\\x3a:error file=x.ts,line=1::pwned')
  expect(oneLine('  ::warning::x')).toBe('  \\x3a:warning::x')
  expect(oneLine('a > \n::error::x')).toBe('a > \\n::error::x')
  delete process.env.GITHUB_ACTIONS
  expect(oneLine('::error::x')).toBe('::error::x')
})
