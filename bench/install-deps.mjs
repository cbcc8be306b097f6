/**
 * Installs the benchmark's own dependencies (bench/package.json: the peer frameworks and
 * autocannon) into bench/node_modules when they are missing or older than bench/package-lock.json.
 * `npm run bench`, `bench:profile` and `bench:micro` run it first; the root install never brings
 * these packages, so the library, the server and `npm test` install in a fraction of the time.
 *
 * "Current" means: the SHA-256 of bench/package.json and bench/package-lock.json matches the stamp
 * this script wrote after its last successful `npm ci`. A changed lock (a peer upgraded), an
 * interrupted install or a deleted bench/node_modules all lead to a fresh `npm ci`, which installs
 * exactly the lock. Node resolves bench/'s imports by walking up the directories: express, fastify,
 * … are found in bench/node_modules, ioredis and @node-rs/bcrypt in the root node_modules.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const bench = dirname(fileURLToPath(import.meta.url))
const stamp = join(bench, 'node_modules', '.sessionkit-bench-lock')
const digest = createHash('sha256')
  .update(readFileSync(join(bench, 'package.json')))
  .update(readFileSync(join(bench, 'package-lock.json')))
  .digest('hex')

if (!existsSync(stamp) || readFileSync(stamp, 'utf8').trim() !== digest) {
  console.error('bench: installing the benchmark dependencies into bench/node_modules (npm ci, once)')
  // cookie@2 declares Node >= 22, so Node 20's npm warns EBADENGINE; it runs on 20 all the same.
  // Under `npm run`, npm_execpath is the npm that runs us: use the same one.
  const npmCli = process.env.npm_execpath
  const [cmd, args] =
    npmCli !== undefined && npmCli.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', []]
  const result = spawnSync(cmd, [...args, 'ci', '--no-audit', '--no-fund'], { cwd: bench, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`bench: npm ci in bench/ failed (${result.error?.message ?? `exit ${result.status}`})`)
    process.exit(1)
  }
  writeFileSync(stamp, `${digest}\n`)
}
