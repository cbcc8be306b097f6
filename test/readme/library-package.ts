/**
 * sessionkit as another project gets it: the package is packed as `npm pack` would publish it,
 * the tarball is installed into an empty scratch project by npm, and the README's JavaScript
 * example runs there against the installed copy — not against this repository's files.
 *
 * The install resolves ioredis and @node-rs/bcrypt with `--prefer-offline`: from the npm cache
 * that installing this repository filled (CI runs `npm ci` first), going to the registry only
 * for what the cache lacks. Child processes get the environment minus the test runner's and the
 * parent npm's settings (NODE_OPTIONS loaders, coverage, npm_config_* that would point npm back
 * at this repository).
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { readmeBlock } from '../fixtures/readme.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }

const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_OPTIONS$|NODE_V8_COVERAGE$|TAP|_TAPJS)/i.test(k)),
)

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Run a command to its end; its output is returned, and shown in the failure of an assertion. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

t.test('pack, install the tarball into a scratch project, run the README example', async (t) => {
  const dir = t.testdir({ app: {} })
  const app = join(dir, 'app')

  // dist/ as `npm pack` would build it (prepare runs this same script; a no-op when current).
  const build = await run(process.execPath, [join(ROOT, 'scripts/build.mjs')], ROOT)
  t.equal(build.code, 0, 'dist/ is built', build)
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)
  t.equal(pack.code, 0, 'npm pack', pack)
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = new Set(packed?.files.map((f) => f.path))

  t.ok(files.has('LICENSE'), 'the LICENSE file is in the package')
  t.ok(files.has('dist/index.js') && files.has('dist/index.d.ts'), 'the entry point and its types')
  t.notOk([...files].some((f) => /^(test|bench|scripts)\//.test(f) || f.endsWith('.build-digest')), 'no tests, benchmarks or build stamps')
  // Every source map points at files that ship with it (lib/*.ts), so stack traces and
  // "go to definition" land on real source instead of a missing file.
  const maps = [...files].filter((f) => f.endsWith('.map'))
  t.ok(maps.length > 0, 'source maps ship')
  const missing = maps.flatMap((map) => {
    const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] }
    return sources.map((s) => posix.join(posix.dirname(map), s)).filter((s) => !files.has(s))
  })
  t.strictSame(missing, [], 'no source map points outside the package')

  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }))
  const tarball = join(dir, packed?.filename ?? 'missing.tgz')
  const install = await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], app)
  t.equal(install.code, 0, 'npm install of the tarball', install)
  t.notMatch(install.stderr, /EBADENGINE/, 'no engine warnings')
  t.same(readdirSync(join(app, 'node_modules', PKG.name)).sort(), ['LICENSE', 'README.md', 'dist', 'lib', 'package.json'])

  const dts = readFileSync(join(app, 'node_modules', PKG.name, 'dist', 'cookie', 'serialize.d.ts'), 'utf8')
  t.match(dts, /ERR_OPTION_INVALID[^\n]*\n \*\/\nexport declare function serializeCookie\(/, "serializeCookie's error table is in its declaration")

  // The README's example, unchanged, on a free port.
  writeFileSync(join(app, 'app.mjs'), readmeBlock('### A server with sessions', 'js'))
  const child = spawn(process.execPath, ['app.mjs'], { cwd: app, env: { ...cleanEnv, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void child.kill('SIGKILL'))
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      output += c.toString()
      const m = /listening on (http:\/\/\S+)/.exec(output)
      if (m !== null) resolve(m[1] as string)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => reject(new Error(`app.mjs exited ${code} before listening:\n${output}`)))
  })
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)

  const anonymous = await fetch(`${url}/`)
  t.equal(await anonymous.text(), 'hello stranger\n')
  t.equal(anonymous.headers.get('set-cookie'), null, 'reading nothing sets no cookie')
  const login = await fetch(`${url}/login`)
  t.equal(await login.text(), 'hello Ada\n')
  const cookie = login.headers.get('set-cookie')?.split(';')[0]
  t.match(cookie, /^sid=[\w-]+\.[\w-]+$/, 'a signed session cookie')
  const again = await fetch(`${url}/`, { headers: { cookie: cookie ?? '' } })
  t.equal(await again.text(), 'hello Ada\n', 'the session is read back')
})
