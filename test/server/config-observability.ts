import t from 'tap'
import { ConfigError, loadConfig } from '../../lib/server/config.js'

t.test('logs and metrics: defaults, accepted values, clear refusals', async (t) => {
  const base = loadConfig({})
  t.same(base.log, { level: 'info', format: 'json' })
  t.same(base.metrics, { token: null, port: null }, 'metrics are off by default')
  const on = loadConfig({ LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty', METRICS_TOKEN: 'a'.repeat(16), METRICS_PORT: '9464' })
  t.same(on.log, { level: 'debug', format: 'pretty' })
  t.same(on.metrics, { token: 'a'.repeat(16), port: 9464 })
  t.same(loadConfig({ LOG_LEVEL: '', LOG_FORMAT: '', METRICS_TOKEN: '', METRICS_PORT: '' }).metrics, { token: null, port: null }, 'empty is unset')
  for (const level of ['debug', 'info', 'warn', 'error', 'silent']) t.equal(loadConfig({ LOG_LEVEL: level }).log.level, level)
  for (const [env, pattern] of [
    [{ LOG_LEVEL: 'verbose' }, /LOG_LEVEL must be one of debug, info, warn, error, silent/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT must be json or pretty/],
    [{ METRICS_TOKEN: 'short' }, /METRICS_TOKEN must be at least 16/],
    [{ METRICS_TOKEN: 'with a space in it, long enough' }, /METRICS_TOKEN/],
    [{ METRICS_PORT: '70000' }, /METRICS_PORT must be an integer from 0 to 65535/],
    [{ METRICS_PORT: 'x' }, /METRICS_PORT/],
  ] as const) {
    t.throws(() => loadConfig(env), ConfigError)
    t.throws(() => loadConfig(env), { message: pattern })
  }
})
