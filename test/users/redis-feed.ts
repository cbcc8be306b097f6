/**
 * RedisChangeFeed: live only while subscribed; says "drop everything" (null) when it goes down and
 * when it comes back; a connection that stops answering PINGs counts as down.
 */
import { randomBytes } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import t from 'tap'
import { feedConnector, RedisChangeFeed } from '../../lib/users/redis-feed.js'
import { startRedis } from '../fixtures/redis-server.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const raw = new Redis(url)
t.teardown(() => raw.quit())

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

t.test('messages, a killed connection, and the way back', async (t) => {
  const channel = `t-feed-${randomBytes(6).toString('hex')}`
  const name = `feed-${randomBytes(4).toString('hex')}`
  const errors: Error[] = []
  const feed = new RedisChangeFeed({
    channel,
    connect: (attempt) => {
      const conn = feedConnector({ url })(attempt)
      conn.on('connect', () => void conn.client('SETNAME', name).catch(() => {}))
      return conn
    },
    onError: (err) => errors.push(err),
  })
  t.teardown(() => feed.close())
  const heard: (string | null)[] = []
  const off = feed.subscribe((id) => heard.push(id))
  await feed.ready
  t.equal(feed.live, true)
  await raw.publish(channel, 'u1')
  await raw.publish(`${channel}-other`, 'u2')
  await until('the message', () => heard.includes('u1'))
  t.notOk(heard.includes('u2'), 'other channels are ignored')
  heard.length = 0
  await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'SKIPME', 'yes')
  await until('down', () => !feed.live)
  t.same(heard.slice(0, 1), [null], 'going down says: drop everything')
  await until('back up', () => feed.live)
  t.equal(heard.at(-1), null, 'coming back says it again')
  await raw.publish(channel, 'u3')
  await until('a message after the reconnection', () => heard.includes('u3'))
  off()
  await feed.close()
  await feed.close()
  t.equal(feed.live, false, 'closed: down for good')
})

t.test('a connection that stops answering PINGs is dropped (a hung host)', async (t) => {
  const redis = await startRedis()
  t.teardown(async () => {
    redis.resume()
    await redis.stop()
  })
  const feed = new RedisChangeFeed({ channel: 'c', heartbeatMs: 50, connect: feedConnector({ url: redis.url }, 200) })
  t.teardown(() => feed.close())
  const heard: (string | null)[] = []
  feed.subscribe((id) => heard.push(id))
  await feed.ready
  t.equal(feed.live, true)
  redis.pause()
  const pausedAt = Date.now()
  await until('dropped for a missing PONG', () => !feed.live)
  t.ok(Date.now() - pausedAt < 1000, `down ${Date.now() - pausedAt} ms after the host hung (heartbeat 50 ms)`)
  t.same(heard, [null, null], 'up, then down: both said')
  redis.resume()
  await until('back after the host answers again', () => feed.live)
})

t.test('a feed closed while it connects stays down', async (t) => {
  const feed = new RedisChangeFeed({ channel: 'c', connect: feedConnector({ url }) })
  await feed.close()
  await new Promise((r) => setTimeout(r, 100))
  t.equal(feed.live, false)
})

t.test('following a Cluster client that knows no node yet: a connection that fails, tried again later', async (t) => {
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
  const conn = feedConnector({ client: cluster })(0)
  t.equal(conn.options.port, 1)
  conn.disconnect()
  cluster.disconnect()
})

t.test('a feed that cannot connect stays down and keeps trying', async (t) => {
  let attempts = 0
  const feed = new RedisChangeFeed({ channel: 'c', connect: (n) => ((attempts = n + 1), feedConnector({ nodes: [{ host: '127.0.0.1', port: 1 }] })(n)) })
  await until('a second attempt', () => attempts >= 2)
  t.equal(feed.live, false)
  await feed.close()
})
