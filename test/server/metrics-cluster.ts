/**
 * WORKERS=2: a scrape shows the whole server, never one random worker. The real `npm start` entry
 * runs two workers on a private Redis; requests spread over both (one connection each, and the
 * primary hands connections out round-robin); the primary's METRICS_PORT and a worker's
 * token-protected /metrics both answer with the sum, and per-process gauges carry a worker label.
 */
import { spawn } from 'node:child_process'
import cluster from 'node:cluster'
import { EventEmitter } from 'node:events'
import { request } from 'node:http'
import t from 'tap'
import { ClusterMetrics, workerMetrics, type Message } from '../../lib/server/metrics-cluster.js'
import { promtoolCheck, sample } from '../fixtures/prometheus.js'
import { freePort, startRedis } from '../fixtures/redis-server.js'

const MAIN = new URL('../../lib/server/main.ts', import.meta.url).pathname
const TOKEN = 'cluster-metrics-token-0123456789abcdef'
const TAG = 'sessionkit:metrics'

/** One request on its own connection (so the primary deals it to the next worker). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('two workers, one truth: summed counters, per-worker gauges, on both scrape paths', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const metricsPort = await freePort()
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, PORT: '0', BCRYPT_COST: '4', WORKERS: '2', REDIS_URL: redis.url, METRICS_PORT: String(metricsPort), METRICS_TOKEN: TOKEN, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const deadline = Date.now() + 60_000
  while ((out.match(/listening on/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const url = /listening on (http:\/\/[^\s"]+)/.exec(out)?.[1] as string
  t.ok(url, 'both workers listen')
  t.match(out, /"message":"metrics on http:\/\/127\.0\.0\.1:\d+\/metrics \(all workers\)"/)
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) t.doesNotThrow(() => JSON.parse(line), 'stdout is JSON lines')

  for (let i = 0; i < 20; i++) t.equal((await get(`${url}/cart`)).status, 200)
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`
  const viaPort = (await get(metricsUrl)).body
  await promtoolCheck(t, viaPort)
  t.equal(sample(viaPort, 'sessionkit_workers{state="reporting"}'), 2)
  t.equal(sample(viaPort, 'sessionkit_workers{state="missing"}'), 0)
  t.equal(sample(viaPort, 'sessionkit_http_request_duration_seconds_count{method="GET",route="/cart",status_class="2xx"}'), 20, 'all 20 requests, whichever worker served them')
  t.match(viaPort, /process_resident_memory_bytes\{worker="1"\} \d+/)
  t.match(viaPort, /process_resident_memory_bytes\{worker="2"\} \d+/)
  t.equal(sample(viaPort, 'sessionkit_users'), 2, 'a shared quantity is not doubled')

  const viaWorker = await get(`${url}/metrics`, { authorization: `Bearer ${TOKEN}` })
  t.equal(viaWorker.status, 200)
  t.equal(sample(viaWorker.body, 'sessionkit_http_request_duration_seconds_count{method="GET",route="/cart",status_class="2xx"}'), 20, 'a worker answers with the whole server too')
  t.equal(sample(viaWorker.body, 'sessionkit_workers{state="reporting"}'), 2)

  child.kill('SIGTERM')
  t.equal(await exited, 0)
})

t.test('in one process: the primary with no worker; a worker answering collects, relaying text, timing out', async (t) => {
  const primary = new ClusterMetrics({ timeoutMs: 50 })
  const text = await primary.text()
  t.equal(sample(text, 'sessionkit_workers{state="reporting"}'), 0)
  t.equal(sample(text, 'sessionkit_workers{state="missing"}'), 0)
  // Messages on the cluster bus that are not ours, a snapshot after its scrape's deadline, and a
  // scrape from a worker that has gone by the time the answer is ready: all dropped quietly.
  const sentBy = (connected: boolean) => {
    const sent: unknown[] = []
    return { sent, worker: { id: 9, isConnected: () => connected, send: (m: unknown) => sent.push(m) } }
  }
  const alive = sentBy(true)
  const gone = sentBy(false)
  cluster.emit('message', alive.worker, { tag: 'someone else' })
  cluster.emit('message', alive.worker, { tag: TAG, op: 'snapshot', id: 12345, families: [] })
  cluster.emit('message', alive.worker, { tag: TAG, op: 'scrape', id: 3 })
  cluster.emit('message', gone.worker, { tag: TAG, op: 'scrape', id: 4 })
  await new Promise((r) => setTimeout(r, 100))
  t.match(alive.sent, [{ tag: TAG, op: 'text', id: 3, text: /sessionkit_workers/ }], 'a worker asking gets the text')
  t.same(gone.sent, [])

  // The scrape timer is unref'd (a server keeps a worker alive); keep this process up meanwhile.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(keepAlive))
  const sent: Message[] = []
  const channel = Object.assign(new EventEmitter(), { send: (m: Message) => sent.push(m) })
  let collected = 0
  const scrape = workerMetrics(async () => (collected++, []), { timeoutMs: 30, channel })
  await t.rejects(scrape(), /did not answer/)
  const answered = scrape()
  channel.emit('message', { tag: 'not ours' })
  channel.emit('message', { tag: TAG, op: 'text', id: 99, text: 'late answer to a finished scrape' })
  channel.emit('message', { tag: TAG, op: 'text', id: 1, text: 'merged\n' })
  t.equal(await answered, 'merged\n')
  channel.emit('message', { tag: TAG, op: 'collect', id: 7 })
  await new Promise((r) => setImmediate(r))
  t.equal(collected, 1, 'a collect request takes a snapshot')
  t.same(sent, [
    { tag: TAG, op: 'scrape', id: 0 },
    { tag: TAG, op: 'scrape', id: 1 },
    { tag: TAG, op: 'snapshot', id: 7, families: [] },
  ])
})
