/**
 * A real Prometheus server (Debian's package) scrapes the auth server's /metrics with the Bearer
 * token, and a counter the test caused is read back through Prometheus' HTTP query API: proof
 * that the hand-written exposition is what Prometheus itself ingests, and that the README's
 * scrape configuration works as written.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { MemoryStore } from '../../lib/stores/memory.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { startPrometheus } from '../fixtures/prometheus.js'
import { boot } from '../fixtures/server-suite.js'

const TOKEN = 'prometheus-test-token-0123456789abcdef'

t.test('Prometheus scrapes /metrics and answers a query for a counter', async (t) => {
  const server = await boot(t, new MemoryStore(), { METRICS_TOKEN: TOKEN })
  const c = new Client(server.url)
  await c.login(JOHN.email, JOHN.password)
  await c.post('/login', { email: JOHN.email, password: 'wrong-password-1' })
  await c.post('/login', { email: 'nobody@example.com', password: 'wrong-password-1' })
  const target = new URL(server.url).host
  // The job as the README shows it: the token read from a file.
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-token-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tokenFile = join(dir, 'sessionkit-token')
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
  const job = `    authorization:\n      type: Bearer\n      credentials_file: ${tokenFile}\n`
  const prom = await startPrometheus(t, target, job)
  if (prom === null) return
  const deadline = Date.now() + 60_000
  let failed: Array<{ metric: Record<string, string>; value: [number, string] }> = []
  while (Date.now() < deadline) {
    failed = await prom.query('sessionkit_security_events_total{event="login.failed"}')
    if (failed.length >= 2) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const byReason = Object.fromEntries(failed.map((r) => [r.metric.reason ?? '', Number(r.value[1])]))
  t.match(byReason, { 'bad-password': 1, 'unknown-user': 1 }, 'the failed logins, by reason')
  const [up] = await prom.query('up{job="sessionkit"}')
  t.equal(up?.value[1], '1', 'the target is up (the token was accepted)')
  const [ok] = await prom.query('sum(sessionkit_http_request_duration_seconds_count{route="/login",status_class="2xx"})')
  t.equal(ok?.value[1], '1', 'one successful login request')
})
