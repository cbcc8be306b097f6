/**
 * A {@link ChangeFeed} on Redis pub/sub: the user store's scripts PUBLISH the id of every user
 * they change, inside the same script as the change (so no change can happen without its message),
 * and every process SUBSCRIBEs on a connection of its own. On Redis Cluster a PUBLISH reaches every
 * node, so the subscriber may sit on any node.
 *
 * Pub/sub is at-most-once: a message sent while the subscriber is disconnected is lost. So the feed
 * is `live` only while its connection is up *and* subscribed; it says `null` ("drop everything") on
 * every transition, and a cache must not serve entries while it is down (lib/users/cache.ts).
 * A connection that dies silently (a network partition sends no RST) is caught by a PING every
 * `heartbeatMs`: no answer within `heartbeatMs` → the connection is dropped and the feed goes
 * down. Staleness is therefore bounded by about 2 × `heartbeatMs` in the worst case, and is a few
 * milliseconds (the message's trip) in the normal case.
 *
 * Reconnection is ours, not ioredis's: each attempt asks `connect(attempt)` for a fresh connection
 * (the server rotates through the Cluster's nodes, so a dead node is left behind), with an
 * exponential back-off from 50 ms to 1 s.
 */
import { Redis as IORedis, type Cluster, type Redis } from 'ioredis'
import type { ChangeFeed } from './store.js'

export interface RedisFeedOptions {
  /** The channel the store's scripts publish on. */
  channel: string
  /**
   * A new, not yet connected ioredis `Redis` for attempt `attempt` (0, 1, …). Give it
   * `lazyConnect: true`, `retryStrategy: () => null` and `enableOfflineQueue: false`: the feed
   * reconnects by itself.
   */
  connect: (attempt: number) => Redis
  /** Ping period and deadline, ms. Default 1000. */
  heartbeatMs?: number
  /** Told about connection errors (once per failed attempt). Default: ignore. */
  onError?: (err: Error) => void
}

export class RedisChangeFeed implements ChangeFeed {
  #live = false
  #closed = false
  #attempt = 0
  #conn: Redis | null = null
  #retry: NodeJS.Timeout | undefined
  #heartbeat: NodeJS.Timeout | undefined
  readonly #listeners = new Set<(id: string | null) => void>()
  readonly #o: Required<RedisFeedOptions>
  /** Resolves once the first subscription is in place (or the feed is closed). */
  readonly ready: Promise<void>
  #markReady!: () => void

  constructor(options: RedisFeedOptions) {
    this.#o = { heartbeatMs: 1000, onError: () => {}, ...options }
    this.ready = new Promise((resolve) => (this.#markReady = resolve))
    this.#open()
  }

  get live(): boolean {
    return this.#live
  }

  subscribe(listener: (id: string | null) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Stop for good: the feed stays down. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retry)
    this.#markReady()
    this.#down()
  }

  #emit(id: string | null): void {
    for (const listener of this.#listeners) listener(id)
  }

  #open(): void {
    const conn = this.#o.connect(this.#attempt)
    this.#conn = conn
    const { channel } = this.#o
    // An 'error' event nobody listens to would crash the process.
    conn.on('error', (err: Error) => this.#o.onError(err))
    conn.on('message', (ch: string, id: string) => {
      if (ch === channel) this.#emit(id)
    })
    conn.once('close', () => {
      if (this.#conn === conn) this.#down()
    })
    conn
      .connect()
      .then(() => conn.subscribe(channel))
      .then(() => {
        /* c8 ignore next -- closed or replaced while subscribing: that connection is already gone */
        if (this.#conn !== conn || this.#closed) return
        this.#attempt = 0
        this.#live = true
        // Anything may have changed while we were not listening.
        this.#emit(null)
        this.#markReady()
        this.#beat(conn)
      })
      .catch((err: unknown) => {
        this.#o.onError(err as Error)
        // Its 'close' (above) takes the feed down and schedules the next attempt.
        conn.disconnect()
      })
  }

  /** PING on a timer; a missing PONG means the connection is dead even if no RST came. */
  #beat(conn: Redis): void {
    const ms = this.#o.heartbeatMs
    this.#heartbeat = setTimeout(() => {
      let answered = false
      const deadline = setTimeout(() => {
        if (!answered && this.#conn === conn) this.#down()
      }, ms)
      deadline.unref()
      conn.ping().then(
        () => {
          answered = true
          clearTimeout(deadline)
          if (this.#conn === conn) this.#beat(conn)
        },
        /* c8 ignore next -- a failed PING comes with 'close', which takes the feed down */
        () => {},
      )
    }, ms)
    this.#heartbeat.unref()
  }

  /** The connection is gone (or must go): say so, drop it, and try again later. */
  #down(): void {
    const conn = this.#conn
    this.#conn = null
    clearTimeout(this.#heartbeat)
    const was = this.#live
    this.#live = false
    if (conn !== null) conn.disconnect()
    if (was) this.#emit(null)
    if (this.#closed) return
    const delay = Math.min(50 * 2 ** this.#attempt, 1000)
    this.#attempt++
    this.#retry = setTimeout(() => this.#open(), delay)
    this.#retry.unref()
  }
}

/**
 * Where the feed connects: the Redis URL, the Cluster's nodes (tried in turn), or the nodes of an
 * existing client (a copy of its connection options; a Cluster's known nodes in turn).
 */
export type FeedTarget = { url: string } | { nodes: ReadonlyArray<{ host: string; port: number }> } | { client: Redis | Cluster }

/** A `connect` for {@link RedisFeedOptions}: a bare connection that never reconnects by itself. */
export function feedConnector(target: FeedTarget, connectTimeoutMs = 1000): (attempt: number) => Redis {
  const options = {
    lazyConnect: true,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: connectTimeoutMs,
  }
  if ('url' in target) return () => new IORedis(target.url, options)
  if ('client' in target) {
    const client = target.client
    if (client instanceof IORedis) return () => client.duplicate({ ...options, enableAutoPipelining: false })
    return (attempt) => {
      const known = client.nodes('all')
      const node = known[attempt % Math.max(1, known.length)]
      // Not connected yet (no nodes known): a connection that fails, and the feed tries again.
      return node === undefined ? new IORedis({ port: 1, host: '127.0.0.1', ...options }) : node.duplicate({ ...options, enableAutoPipelining: false })
    }
  }
  const nodes = target.nodes
  return (attempt) => {
    const node = nodes[attempt % nodes.length] as { host: string; port: number }
    return new IORedis({ host: node.host, port: node.port, ...options })
  }
}
