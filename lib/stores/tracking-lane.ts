/**
 * One *lane* of the client-side cache (lib/stores/redis-tracking.ts): the pair of connections that
 * tracks keys on one Redis server — the *reader*, whose reads Redis remembers (`CLIENT TRACKING ON
 * REDIRECT <id>`), and the *subscriber* `<id>`, subscribed to `__redis__:invalidate` (RESP2), that
 * hears of every change to those keys. One node or Sentinel: one lane. Cluster: one per master.
 *
 * A lane serves memory only while it can prove it has missed no invalidation:
 * - *Set up, then proven.* A fresh subscriber is subscribed, the reader's tracking is redirected to
 *   it, and both are shown to be on the same server (`run_id`, since client IDs repeat across
 *   servers); then a PING on the subscriber is answered. Only then is the lane active.
 * - *Lost on any close.* When either connection closes (dropped, `CLIENT KILL`, a restart, a
 *   failover), the lane tells its owner, which flushes, and it is not active until set up again.
 * - *Leased.* The owner PINGs the subscriber every `leaseMs / 4` ({@link TrackingLane.ping}): Redis
 *   answers after every invalidation it produced before the PING, so the answer proves nothing sent
 *   before it is missing. The lane is active only while such a proof is younger than `leaseMs`, so
 *   a connection that hangs without closing (a partition) stops serving memory within `leaseMs`.
 *
 * A lane whose reader reconnects by itself (one node, Sentinel) sets itself up again on every
 * reconnection; a lane whose reader does not (a Cluster node: ioredis never reconnects those, it
 * re-reads the slot map instead) ends, and the owner builds a new one for the slot map's masters.
 */
import type { Redis } from 'ioredis'

/** The channel Redis publishes invalidations on for RESP2 REDIRECT targets. */
export const INVALIDATION_CHANNEL = '__redis__:invalidate'
const MAX_OUTSTANDING_PINGS = 4
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 1000

/** What a lane tells the cache that owns it. */
export interface LaneOwner {
  /** An invalidation message (an array of key names, or null: everything). */
  message(lane: TrackingLane, message: unknown): void
  /** The lane stopped serving memory because a connection was lost: flush what it may have missed. */
  lost(lane: TrackingLane, reason: string): void
  /** The lane's reader is gone for good (it does not reconnect). */
  ended(lane: TrackingLane): void
  onState(active: boolean, reason: string): void
  onError(err: Error): void
  now(): number
  readonly leaseMs: number
}

export class TrackingLane {
  /** The tracking connection: reads of keys to keep go here, and only while {@link active}. */
  readonly reader: Redis
  readonly #template: Redis
  readonly #owner: LaneOwner
  /** Where, for state messages (`host:port`; empty for the single lane). */
  readonly #where: string
  #subscriber: Redis | undefined
  #settingUp: Redis | undefined
  #ready = false
  #attempt = 0
  #provenAt = -Infinity
  #outstandingPings = 0
  #retryMs = RETRY_MIN_MS
  #retry: NodeJS.Timeout | undefined
  #closed = false

  /**
   * @param template - duplicated for the subscriber (same address, auth, TLS, Sentinel settings).
   * @param reader - the tracking connection, already made (and connecting) from the same template.
   */
  constructor(template: Redis, reader: Redis, owner: LaneOwner, where = '') {
    this.#template = template
    this.#owner = owner
    this.#where = where
    this.reader = reader
    reader.on('error', owner.onError)
    reader.on('close', () => this.#lose('reader connection closed'))
    reader.on('ready', () => void this.#setup())
    reader.on('end', () => {
      if (!this.#closed) owner.ended(this)
    })
  }

  /** True while reads on this lane may be answered from memory (set up, and the lease fresh). */
  get active(): boolean {
    return this.#ready && this.#owner.now() - this.#provenAt <= this.#owner.leaseMs
  }

  /** Stop: both connections closed, no more calls to the owner but a last `lost`. Call it once. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#retry)
    this.#lose('closed')
    this.#settingUp?.disconnect()
    this.reader.disconnect()
  }

  /** The lease's proof: a PING answered on the subscriber, after every invalidation sent before it. */
  ping(): void {
    const subscriber = this.#subscriber
    if (subscriber === undefined || this.#outstandingPings >= MAX_OUTSTANDING_PINGS) return
    const sentAt = this.#owner.now()
    this.#outstandingPings++
    subscriber.ping().then(
      () => {
        if (subscriber === this.#subscriber) this.#provenAt = Math.max(this.#provenAt, sentAt)
      },
      () => {},
    ).finally(() => this.#outstandingPings--)
  }

  /** A connection is gone (or the lane closes): flush, stop serving memory, set up again. */
  #lose(reason: string): void {
    this.#attempt++
    this.#deactivate(reason)
    if (!this.#closed && this.reader.status === 'ready') this.#scheduleSetup()
  }

  /** Drop the subscriber in force (if any), stop serving memory, and have the owner flush. */
  #deactivate(reason: string): void {
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    subscriber?.disconnect()
    if (this.#ready) {
      this.#ready = false
      this.#owner.onState(false, reason)
    }
    this.#owner.lost(this, reason)
  }

  #scheduleSetup(): void {
    clearTimeout(this.#retry)
    this.#retry = setTimeout(() => void this.#setup(), this.#retryMs).unref()
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS)
  }

  /** The way (back) to active: a fresh subscriber, tracking redirected to it, both on one server. */
  async #setup(): Promise<void> {
    clearTimeout(this.#retry)
    if (this.#closed) return
    const attempt = ++this.#attempt
    this.#deactivate('tracking set up again')
    const current = (): boolean => attempt === this.#attempt && !this.#closed
    // Single use: if it drops, a new one is made (it must be re-subscribed and the reader
    // re-pointed at its new client ID anyway), so ioredis must not reconnect or replay it. On
    // Sentinel, the reader's own failover detection is enough: its reconnection drops this one.
    const subscriber = this.#template.duplicate({
      protocol: 2, lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false,
      enableAutoPipelining: false, retryStrategy: () => null, maxRetriesPerRequest: 0, failoverDetector: false,
    })
    this.#settingUp = subscriber
    subscriber.on('error', this.#owner.onError)
    subscriber.on('messageBuffer', (_channel: Buffer, message: unknown) => {
      if (subscriber === this.#subscriber) this.#owner.message(this, message)
    })
    subscriber.on('close', () => {
      if (subscriber === this.#subscriber) this.#lose('subscriber connection closed')
    })
    try {
      await subscriber.connect()
      const id = await subscriber.client('ID')
      const subscriberRun = runId(await subscriber.info('server'))
      await subscriber.subscribe(INVALIDATION_CHANNEL)
      if (!current()) throw new Error('superseded')
      // One pipeline: both run on the same reader connection (a reconnect in between would
      // supersede this attempt through the reader's 'close').
      const replies = (await this.reader.pipeline()
        .client('TRACKING', 'ON', 'REDIRECT', String(id)).info('server').exec()) as Array<[Error | null, unknown]>
      for (const [err] of replies) if (err !== null) throw err
      if (runId(replies[1]?.[1] as string) !== subscriberRun) throw new Error('reader and subscriber reached different servers')
      const sentAt = this.#owner.now()
      await subscriber.ping()
      // A close of the subscriber from here on finds it in force (#lose): its 'close' event
      // cannot run between the PING's reply and this line.
      if (!current()) throw new Error('superseded')
      this.#subscriber = subscriber
      this.#settingUp = undefined
      this.#provenAt = sentAt
      this.#ready = true
      this.#retryMs = RETRY_MIN_MS
      this.#owner.onState(true, `tracking on (client ${String(id)}${this.#where === '' ? '' : ` at ${this.#where}`})`)
    } catch (err) {
      subscriber.disconnect()
      if (this.#settingUp === subscriber) this.#settingUp = undefined
      if (!current()) return
      this.#owner.onError(err as Error)
      if (this.reader.status === 'ready') this.#scheduleSetup()
    }
  }
}

/** The `run_id` line of `INFO server`: unique per server process. */
function runId(info: string): string {
  const match = /^run_id:(\w+)/m.exec(info)
  if (match === null) throw new Error('INFO server has no run_id')
  return match[1] as string
}
