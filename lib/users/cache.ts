/**
 * Users kept in process, in front of a {@link UserStore}, so that the user lookup every
 * authenticated request makes costs no round trip to Redis — and, on a hit, not even a promise:
 * {@link UserCache.byId} answers synchronously.
 *
 * What another process sees, and when: a change made anywhere is published by the store (the
 * store's {@link ChangeFeed}); on the message, this cache drops that user and the next request
 * reads it again. The change is in force here as soon as the message arrives — a few
 * milliseconds (test/users/multi-process.ts measures it; the bound is 100 ms). A change made
 * through this cache is dropped here at once, before the call resolves.
 *
 * Never a stale user:
 * - While the feed is down (`live` false), nothing is served from memory and nothing is kept:
 *   every lookup reads the store, until the feed is back; and on every down/up transition the
 *   whole cache is dropped (messages may have been missed).
 * - A read that was in flight when any invalidation arrived is not kept (its answer may predate
 *   the change): an epoch counter, bumped by every message, must be the same before and after.
 */
import type { ChangeFeed, ChangeResult, CreateResult, DeleteResult, NewUser, User, UserPatch, UserStore } from './store.js'

export interface UserCacheOptions {
  /** Most users held; past it the cache starts over (users are few; this bounds memory). Default 10 000. */
  maxEntries?: number
}

export class UserCache {
  readonly store: UserStore
  readonly #feed: ChangeFeed
  /** id → user, or null for "no such user" (a deleted user's sessions keep asking). */
  readonly #users = new Map<string, User | null>()
  readonly #max: number
  readonly #unsubscribe: () => void
  #epoch = 0

  constructor(store: UserStore, options: UserCacheOptions = {}) {
    this.store = store
    this.#feed = store.changes
    this.#max = options.maxEntries ?? 10_000
    this.#unsubscribe = this.#feed.subscribe((id) => this.#drop(id))
  }

  /** The user with this id: synchronously from memory when cached, else from the store. */
  byId(id: string): User | null | Promise<User | null> {
    if (this.#feed.live) {
      const hit = this.#users.get(id)
      if (hit !== undefined) return hit
    }
    const epoch = this.#epoch
    return this.store.byId(id).then((user) => {
      // Keep it only if nothing changed meanwhile and the feed would tell us about the next change.
      if (epoch === this.#epoch && this.#feed.live) {
        if (this.#users.size >= this.#max) this.#users.clear()
        this.#users.set(id, user)
      }
      return user
    })
  }

  /** Always from the store: logins must see the current hash (a password check is no hot path). */
  byEmail(email: string): Promise<User | null> {
    return this.store.byEmail(email)
  }

  /** From the store, bypassing memory (checks that must not trust even a millisecond-old copy). */
  fresh(id: string): Promise<User | null> {
    return this.store.byId(id)
  }

  async create(user: NewUser): Promise<CreateResult> {
    const result = await this.store.create(user)
    if (result.ok) this.#drop(result.user.id)
    return result
  }

  update(id: string, patch: UserPatch): Promise<ChangeResult> {
    return this.#changed(id, this.store.update(id, patch))
  }

  setPasswordHash(id: string, hash: string): Promise<ChangeResult> {
    return this.#changed(id, this.store.setPasswordHash(id, hash))
  }

  delete(id: string): Promise<DeleteResult> {
    return this.#changed(id, this.store.delete(id))
  }

  /** How many users are held (tests, metrics). */
  get size(): number {
    return this.#users.size
  }

  /** Stop listening and close the store. */
  async close(): Promise<void> {
    this.#unsubscribe()
    this.#users.clear()
    await this.store.close()
  }

  async #changed<T>(id: string, change: Promise<T>): Promise<T> {
    // Dropped before and after: a read that starts while the change runs is not kept either.
    this.#drop(id)
    try {
      return await change
    } finally {
      this.#drop(id)
    }
  }

  #drop(id: string | null): void {
    this.#epoch++
    if (id === null) this.#users.clear()
    else this.#users.delete(id)
  }
}
