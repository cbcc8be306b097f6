/**
 * The users every authenticated request looks up, answered from process memory when the store
 * keeps them there coherently ({@link UserStore.peek}), so that the lookup costs no round trip to
 * Redis — and, on a hit, not even a promise: {@link UserCache.byId} answers synchronously.
 *
 * What another process sees, and when: this class keeps nothing of its own; the store decides.
 * - The memory store is its own memory (one process): a change is seen at once.
 * - The Redis store keeps what `byId` read under Redis's client tracking (lib/users/redis.ts, the
 *   mechanism of the session cache, lib/stores/redis-tracking.ts): a change made in any process
 *   writes the user's hash, Redis tells every process that read it, and the next lookup there
 *   reads Redis again — a few milliseconds (test/users/redis.ts measures it; the bound is 50 ms).
 *   A change made through this cache is dropped here before the call resolves. While tracking is
 *   lost, nothing is served from memory; a read in flight when its user changes is not kept.
 */
import type { ChangeResult, CreateResult, DeleteResult, NewUser, User, UserPatch, UserStore } from './store.js'

export class UserCache {
  readonly store: UserStore

  constructor(store: UserStore) {
    this.store = store
  }

  /** The user with this id: synchronously from memory when the store has it there, else from the store. */
  byId(id: string): User | null | Promise<User | null> {
    const hit = this.store.peek(id)
    return hit !== undefined ? hit : this.store.byId(id)
  }

  /** Always from the store: logins must see the current hash (a password check is no hot path). */
  byEmail(email: string): Promise<User | null> {
    return this.store.byEmail(email)
  }

  /** From the store, bypassing memory (checks that must not trust even a millisecond-old copy). */
  fresh(id: string): Promise<User | null> {
    return this.store.byId(id)
  }

  create(user: NewUser): Promise<CreateResult> {
    return this.store.create(user)
  }

  update(id: string, patch: UserPatch): Promise<ChangeResult> {
    return this.store.update(id, patch)
  }

  setPasswordHash(id: string, hash: string): Promise<ChangeResult> {
    return this.store.setPasswordHash(id, hash)
  }

  delete(id: string): Promise<DeleteResult> {
    return this.store.delete(id)
  }

  /** Close the store. */
  close(): Promise<void> {
    return this.store.close()
  }
}
