/**
 * `npm start` as an operator runs it: JSON lines on stdout (start-up, access, audit), a metrics
 * listener on loopback, pending lines flushed at shutdown; LOG_LEVEL=silent quiet and unobserved;
 * with workers, whole lines from every process on one stdout, however slow its reader.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, get } from 'node:http'
import t from 'tap'
import { createApp } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { Logger } from '../../lib/server/log.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { childEnv } from '../fixtures/child-env.js'
import { JOHN } from '../fixtures/http-client.js'
import { promtoolCheck } from '../fixtures/prometheus.js'
import { testRedis } from '../fixtures/redis-client.js'

const MAIN = new URL('../../lib/server/main.ts', import.meta.url).pathname

function start(t: Tap, env: Record<string, string>) {
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, PORT: '0', BCRYPT_COST: '4', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const waitFor = async (pattern: RegExp): Promise<RegExpExecArray> => {
    const deadline = Date.now() + 60_000
    for (;;) {
      const m = pattern.exec(out)
      if (m !== null) return m
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${out}\n${err}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return { child, exited, waitFor, out: () => out, err: () => err }
}
type Tap = { teardown(fn: () => void): void }

t.test('JSON lines on stdout, metrics on loopback, everything flushed at SIGTERM', async (t) => {
  const p = start(t, { METRICS_PORT: '0', LOG_LEVEL: 'debug' })
  const url = (await p.waitFor(/listening on (http:\/\/[^\s"]+)/))[1] as string
  const metricsUrl = (await p.waitFor(/"metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)"/))[1] as string
  const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(JOHN) })
  t.equal(login.status, 200)
  const bad = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...JOHN, password: 'not-the-password' }) })
  t.equal(bad.status, 401)
  const scrape = await fetch(metricsUrl)
  t.equal(scrape.status, 200)
  await promtoolCheck(t, await scrape.text())
  // Lines are buffered: the last requests' lines are still pending when the signal arrives, and
  // shutdown must write them all.
  const PROBES = 200
  const statuses: number[] = []
  for (let i = 0; i < PROBES; i++) statuses.push((await fetch(`${url}/healthz?n=${i}`)).status)
  t.ok(statuses.every((s) => s === 200), `${PROBES} probes answered`)
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
  const probes = p.out().split('\n').filter((l) => l.includes('"route":"/healthz"'))
  t.equal(probes.length, PROBES, 'every access line written, none lost at shutdown')
  const lines = p.out().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(lines, [
    { kind: 'message', message: /listening on/ },
    { kind: 'message', message: /metrics on/ },
  ])
  t.ok(lines.some((l) => l.kind === 'access' && l.route === '/login' && l.status === 200), 'an access line for the login')
  t.ok(lines.some((l) => l.kind === 'audit' && l.event === 'login.failed' && l.reason === 'bad-password'), 'an audit line for the failure')
  t.ok(lines.some((l) => l.kind === 'audit' && l.event === 'login.succeeded'), 'and for the success')
  t.notMatch(p.out(), /john-password-1|not-the-password/, 'no password on stdout')
  t.notMatch(p.out(), new RegExp((login.headers.get('set-cookie') ?? 'x=unset;').split(';')[0]!.split('=')[1]!), 'no cookie on stdout')
})

t.test('stdout redirected to a file (`npm start > file`): every line lands in it, written in place', async (t) => {
  const file = join(t.testdir({}), 'server.log')
  const fd = openSync(file, 'w')
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: childEnv({ PORT: '0', BCRYPT_COST: '4', LOG_LEVEL: 'debug' }),
    stdio: ['ignore', fd, 'pipe'],
  })
  closeSync(fd)
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const deadline = Date.now() + 60_000
  let url: string | undefined
  while (url === undefined) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not listening: ${readFileSync(file, 'utf8')}`)
    await new Promise((r) => setTimeout(r, 50))
    url = /listening on (http:\/\/[^\s"]+)/.exec(readFileSync(file, 'utf8'))?.[1]
  }
  const PROBES = 300
  for (let i = 0; i < PROBES; i++) await (await fetch(`${url}/healthz`)).text()
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(lines.filter((l) => l.route === '/healthz').length, PROBES, 'every access line, whole')
})

t.test('LOG_LEVEL=silent: nothing on stdout; the server is not observed at all', async (t) => {
  const p = start(t, { LOG_LEVEL: 'silent', LOG_FORMAT: 'pretty' })
  const deadline = Date.now() + 60_000
  while (p.err() === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  // No listening line to wait for: the warning about the generated secret (stderr) says it started.
  await new Promise((r) => setTimeout(r, 500))
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
  t.equal(p.out(), '')
  const app = await createApp(loadConfig({ PORT: '0', BCRYPT_COST: '4' }), { store: new MemoryStore(), logger: new Logger({ level: 'silent' }) })
  t.teardown(() => app.sessions.close())
  t.equal(app.observed.active, false, 'a silent logger installs no request hook')
  t.equal(app.sessions.events.active, false, 'and no event listener')
})

t.test('WORKERS=2 on one stdout pipe that its reader leaves full: every line arrives whole', async (t) => {
  // Workers and primary share the inherited pipe. With the reader stalled, the pipe fills and each
  // worker's lines queue up; when the reader resumes, writes larger than PIPE_BUF were taken in
  // part and the two workers' bytes met mid-line (before the fix: broken lines in 3 runs of 4).
  const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const prefix = `t-mainobs-${randomBytes(6).toString('hex')}:`
  // Fails, never skips, without Redis; deletes the prefix's keys at teardown.
  await testRedis(t, REDIS_URL, prefix)
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: childEnv({ PORT: '0', BCRYPT_COST: '4', WORKERS: '2', REDIS_URL, REDIS_PREFIX: prefix }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  let out = ''
  let err = ''
  const read = (c: Buffer): void => void (out += c.toString())
  child.stdout.on('data', read)
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const deadline = Date.now() + 60_000
  while ((out.match(/listening on/g) ?? []).length < 2) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not listening:\n${out}\n${err}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = (/listening on (http:\/\/[^\s"]+)/.exec(out) as RegExpExecArray)[1] as string
  child.stdout.off('data', read)
  child.stdout.pause()
  const before = out
  // 20 000 requests (3.8 MB of access lines, 60 pipefuls), 16 connections spread over both workers.
  const REQUESTS = 20_000
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  t.teardown(() => agent.destroy())
  let sent = 0
  const statuses = new Map<number, number>()
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent < REQUESTS) {
        sent++
        const status = await new Promise<number>((resolve, reject) => {
          get(`${url}/not-a-route`, { agent }, (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode as number))
          }).on('error', reject)
        })
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }),
  )
  t.same([...statuses], [[404, REQUESTS]], 'every request answered')
  child.stdout.on('data', read)
  child.stdout.resume()
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  const lines = out.slice(before.length).split('\n').filter(Boolean)
  const broken = lines.filter((line) => {
    try {
      JSON.parse(line)
      return false
    } catch {
      return true
    }
  })
  t.same(broken.slice(0, 3), [], `${broken.length} broken lines of ${lines.length}`)
  const access = lines.filter((l) => l.includes('"kind":"access"') && l.includes('"status":404'))
  t.equal(access.length, REQUESTS, 'an access line for every request, none lost or merged')
  const pids = new Set(lines.filter((l) => l.includes('"kind":"message"')).map((l) => /worker (\d+)/.exec(l)?.[1]).filter(Boolean))
  t.ok(pids.size <= 2)
})
