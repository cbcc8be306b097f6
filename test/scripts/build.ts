/**
 * scripts/build.mjs (`npm run build`, `npm start`'s prestart) on a scratch package: a copy of the
 * script and the tsconfig files, a one-file lib/, and this repository's node_modules for tsc.
 * It must compile when anything under lib/ changed, skip when nothing did, never leave the output
 * of a deleted source behind, and never mark a failed build as done.
 *
 * The script runs as a copy, so tap's coverage cannot attribute it to scripts/build.mjs:
 * package.json excludes scripts/ from coverage, and this test is what checks it.
 */
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function build(dir: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'scripts', 'build.mjs'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stderr += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

t.test('builds when lib/ changed, and only then', async (t) => {
  const dir = t.testdir({
    scripts: {},
    lib: { 'index.ts': 'export const answer: number = 42\n', 'gone.ts': 'export const gone = 1\n' },
    'package.json': JSON.stringify({ name: 'scratch', type: 'module' }),
  })
  copyFileSync(join(ROOT, 'scripts', 'build.mjs'), join(dir, 'scripts', 'build.mjs'))
  for (const f of ['tsconfig.json', 'tsconfig.build.json']) copyFileSync(join(ROOT, f), join(dir, f))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  const out = (f: string) => join(dir, 'dist', f)

  let r = await build(dir)
  t.equal(r.code, 0, 'first build', r)
  t.match(r.stderr, 'compiling lib/ to dist/')
  t.match(readFileSync(out('index.js'), 'utf8'), 'export const answer = 42')
  t.ok(existsSync(out('index.d.ts')) && existsSync(out('index.js.map')), 'declarations and maps')
  const builtAt = statSync(out('index.js')).mtimeMs

  r = await build(dir)
  t.equal(r.code, 0)
  t.match(r.stderr, 'dist/ is up to date with lib/', 'nothing changed: no compile')
  t.equal(statSync(out('index.js')).mtimeMs, builtAt, 'dist/ untouched')

  r = await build(dir, '--force')
  t.match(r.stderr, 'compiling', '--force compiles anyway')

  writeFileSync(join(dir, 'lib', 'index.ts'), 'export const answer: number = 43\n')
  rmSync(join(dir, 'lib', 'gone.ts'))
  r = await build(dir)
  t.match(r.stderr, 'compiling', 'a changed and a deleted source')
  t.match(readFileSync(out('index.js'), 'utf8'), 'export const answer = 43')
  t.notOk(existsSync(out('gone.js')), 'the deleted source leaves no module behind')

  writeFileSync(join(dir, 'lib', 'index.ts'), 'export const answer: number = "not a number"\n')
  r = await build(dir)
  t.equal(r.code, 1, 'a type error fails the build')
  t.match(r.stderr, /error TS2322[\s\S]*build: tsc failed \(exit 2\); dist\/ is not marked as built/)
  t.notOk(existsSync(out('.build-digest')), 'no digest for a failed build')
  writeFileSync(join(dir, 'lib', 'index.ts'), 'export const answer: number = 43\n')
  r = await build(dir)
  t.match(r.stderr, 'compiling', 'the next run compiles again, although the source is back as it was')
  t.equal(r.code, 0)
})
