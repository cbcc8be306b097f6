/**
 * `npm run build` (and `npm start`'s prestart): compile lib/ to dist/ with tsc, but only when
 * something that goes into dist/ changed since the last build. A full tsc run takes about ten
 * seconds on a small machine; when nothing changed this script answers in a few milliseconds, so
 * `npm start` listens at once. `--force` rebuilds regardless.
 *
 * Always correct, not "usually": the decision is a SHA-256 over the content (not the mtimes) of
 * every file under lib/, the tsconfig files, package.json and the TypeScript version, written to
 * dist/.build-digest after a successful build. Any difference — an edited, added or deleted file,
 * a branch switch, a TypeScript upgrade, a dist/ deleted or half-written by an interrupted build —
 * means a rebuild, and a rebuild starts from an empty dist/ so a deleted source leaves no stale
 * module behind. (tsc's own --incremental would still spend about three seconds loading the
 * program to find out nothing changed, and trusts dist/ to be intact.)
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const stamp = join(dist, '.build-digest')
const tscPath = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')

/** Every file under `dir`, in a stable order. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort()
}

function digest() {
  const hash = createHash('sha256')
  const inputs = [...filesUnder(join(root, 'lib')), ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => join(root, f))]
  for (const file of inputs) {
    // Name and content, each length-prefixed, so moving bytes between files changes the digest.
    const content = readFileSync(file)
    hash.update(`${relative(root, file)}\0${content.length}\0`).update(content)
  }
  hash.update(`typescript ${JSON.parse(readFileSync(join(dirname(tscPath), '..', 'package.json'), 'utf8')).version}`)
  return hash.digest('hex')
}

const wanted = digest()
if (!process.argv.includes('--force') && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wanted) {
  console.error('build: dist/ is up to date with lib/')
} else {
  console.error('build: compiling lib/ to dist/ (tsc -p tsconfig.build.json)')
  rmSync(dist, { recursive: true, force: true })
  // tsc prints its diagnostics on stdout; send them to stderr so `npm run -s hash-password` and
  // other commands whose stdout is data stay clean.
  const result = spawnSync(process.execPath, [tscPath, '-p', join(root, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2] })
  if (result.status !== 0) {
    console.error(`build: tsc failed (${result.error?.message ?? `exit ${result.status}`}); dist/ is not marked as built`)
    process.exit(1)
  }
  writeFileSync(stamp, `${wanted}\n`)
}
