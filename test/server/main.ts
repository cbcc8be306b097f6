/**
 * `npm start`'s entry point as a real process: it serves, refuses bad configuration with a clear
 * message, runs workers with node:cluster, and exits 0 on SIGTERM/SIGINT within 5 s.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { childEnv, wipePrefix } from '../fixtures/child-env.js'

const MAIN = new URL('../../lib/server/main.ts', import.meta.url).pathname
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

interface Proc {
  child: ChildProcess
  output(): string
  /** Resolves with the URL of the first `listening on` line. */
  listening: Promise<string>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>
  exitedAt(since: number): Promise<{ code: number | null; ms: number }>
}

function start(t: Tap, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: childEnv({ PORT: '0', BCRYPT_COST: '4', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let resolveUrl: (url: string) => void
  const listening = new Promise<string>((resolve) => (resolveUrl = resolve))
  const onData = (chunk: Buffer) => {
    out += chunk.toString()
    const m = /listening on (http:\/\/[^\s]+)/.exec(out)
    if (m !== null) resolveUrl(m[1] as string)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, ms: performance.now() }))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    output: () => out,
    listening,
    exited,
    exitedAt: async (since) => {
      const e = await exited
      return { code: e.code, ms: e.ms - since }
    },
  }
}
type Tap = { teardown(fn: () => void): void }

async function health(url: string): Promise<number> {
  const res = await fetch(`${url}/healthz`)
  await res.text()
  return res.status
}

t.test('serves, then exits 0 on SIGTERM with a request in flight', async (t) => {
  const p = start(t, {})
  const url = await p.listening
  t.match(p.output(), /SESSION_SECRET is not set/, 'warns about the generated secret')
  t.equal(await health(url), 200)
  // A request whose body is still arriving when the signal comes: it must be answered.
  const [head, tail] = ['{"email":"john@example.com",', '"password":"john-password-1"}']
  const inFlight = new Promise<number>((resolve, reject) => {
    const length = String(Buffer.byteLength(head + tail))
    const req = request(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': length } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.write(head)
    setTimeout(() => req.end(tail), 300)
  })
  await new Promise((r) => setTimeout(r, 100))
  const since = performance.now()
  p.child.kill('SIGTERM')
  t.equal(await inFlight, 200, 'the in-flight login finished')
  const exit = await p.exitedAt(since)
  t.equal(exit.code, 0)
  t.ok(exit.ms < 5000, `exited in ${Math.round(exit.ms)} ms`)
})

t.test('SIGINT stops it too', async (t) => {
  const p = start(t, {})
  await p.listening
  p.child.kill('SIGINT')
  t.equal((await p.exited).code, 0)
})

t.test('refuses to start with a bad configuration, saying why', async (t) => {
  for (const [env, pattern] of [
    [{ WORKERS: '2' }, /WORKERS > 1 needs a shared store/],
    [{ NODE_ENV: 'production', SESSION_SECRET: '' }, /SESSION_SECRET is required/],
  ] as const) {
    const p = start(t, env)
    const exit = await p.exited
    t.equal(exit.code, 1)
    t.match(p.output(), pattern)
  }
})

t.test('a port already in use: exits 1 with the reason', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const p = start(t, { PORT: String((blocker.address() as AddressInfo).port) })
  t.equal((await p.exited).code, 1)
  t.match(p.output(), /failed to start.*EADDRINUSE/s)
})

t.test('production: warns when no users can log in, serves a __Host- cookie', async (t) => {
  const p = start(t, { NODE_ENV: 'production', SESSION_SECRET: 'p'.repeat(32), HOST: '127.0.0.1' })
  const url = await p.listening
  t.match(p.output(), /no USERS_FILE/)
  const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'john@example.com', password: 'john-password-1' }) })
  t.equal(res.status, 401, 'demo users are not loaded in production')
  const cart = await fetch(`${url}/cart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"x"}' })
  t.match(cart.headers.get('set-cookie'), /^__Host-sid=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
  p.child.kill('SIGTERM')
  t.equal((await p.exited).code, 0)
})

t.test('WORKERS=2 on Redis: two processes serve one port; SIGTERM stops them all', async (t) => {
  const prefix = `t-main-${randomBytes(6).toString('hex')}:`
  const raw = new Redis(REDIS_URL)
  t.teardown(async () => {
    await wipePrefix(raw, prefix)
    await raw.quit()
  })
  const p = start(t, { WORKERS: '2', REDIS_URL, REDIS_PREFIX: prefix })
  const url = await p.listening
  await new Promise<void>((resolve) => {
    const check = () => ((p.output().match(/listening on/g) ?? []).length >= 2 ? resolve() : setTimeout(check, 50))
    check()
  })
  t.match(p.output(), /starting 2 workers/)
  t.equal(await health(url), 200)
  // A worker that dies is replaced.
  const pid = Number(/worker (\d+)\)/.exec(p.output())?.[1])
  process.kill(pid, 'SIGKILL')
  await new Promise<void>((resolve) => {
    const check = () => ((p.output().match(/listening on/g) ?? []).length >= 3 ? resolve() : setTimeout(check, 50))
    check()
  })
  t.match(p.output(), new RegExp(`worker ${pid} exited .*starting another in 100 ms`))
  // Each worker imports the demo users it does not find, creating each atomically and never
  // overwriting: the first worker may import both, or the two may race and import one each.
  // Either way, the workers together imported each user once.
  const imported = [...p.output().matchAll(/users in Redis: imported (\d+) from the demo users/g)].map((m) => Number(m[1]))
  t.ok(imported.length >= 2, 'every worker reported its import')
  t.equal(imported.reduce((a, b) => a + b, 0), 2, 'the workers together imported each demo user once')
  t.equal(await health(url), 200)
  const since = performance.now()
  p.child.kill('SIGTERM')
  const exit = await p.exitedAt(since)
  t.equal(exit.code, 0)
  t.ok(exit.ms < 5000)
})

t.test('WORKERS=2: a worker that fails before listening stops the server with exit 1 and its reason', async (t) => {
  const prefix = `t-main-${randomBytes(6).toString('hex')}:`
  const raw = new Redis(REDIS_URL)
  t.teardown(async () => {
    await wipePrefix(raw, prefix)
    await raw.quit()
  })
  const badFile = join(t.testdir({ 'users.json': '[{"id": "x"}]' }), 'users.json')
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  for (const [env, reason] of [
    [{ USERS_FILE: badFile }, /USERS_FILE .*entry 0: email must be/],
    [{ PORT: String((blocker.address() as AddressInfo).port) }, /EADDRINUSE/],
  ] as const) {
    const p = start(t, { WORKERS: '2', REDIS_URL, REDIS_PREFIX: prefix, ...env })
    const exit = await p.exited
    t.equal(exit.code, 1, 'exit 1')
    t.match(p.output(), reason, 'the worker says why')
    t.match(p.output(), /failed before listening .*stopping/)
    t.ok((p.output().match(/could not start/g) ?? []).length <= 2, 'no fork loop: each of the 2 workers tried once')
  }
})
