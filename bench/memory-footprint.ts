/**
 * Heap bytes per session held by MemoryStore, for a small realistic session. Target: ≤ 1 KB.
 *
 * Run (needs a real gc() between measurements):
 *   node --expose-gc --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/memory-footprint.ts
 * Optional argument: the number of sessions (default 100000).
 *
 * Every string is built fresh and flat per session, as strings parsed from real requests are: a
 * shared literal (or a V8 cons-string sharing a prefix) would make the store look smaller than it
 * is in production. Two runs: anonymous sessions, and sessions bound to a user (per-user index,
 * two sessions per user). The store is the only thing keeping the sessions alive.
 */
import { randomBytes } from 'node:crypto'
import { MemoryStore } from '../lib/stores/memory.js'

const count = Number(process.argv[2] ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('run with node --expose-gc (see the comment at the top of this file)')
  process.exit(1)
}

/** A flat (sequential) copy of `s`, as if it had just been parsed from a request. */
const fresh = (s: string): string => Buffer.from(s, 'utf8').toString('utf8')

const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'

async function fill(store: MemoryStore, indexed: boolean): Promise<void> {
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const userId = indexed ? fresh(String(i >> 1)) : null
    await store.create(randomBytes(32).toString('base64url'), {
      version: 1,
      data: fresh(`{"userId":"${i >> 1}","email":"john${i}@example.com"}`),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 86_400_000,
      absoluteExpiresAt: now + 7 * 86_400_000,
      remember: false,
      userId,
      handle: randomBytes(12).toString('base64url'),
      userAgent: fresh(UA),
      ip: fresh('127.0.0.1'),
      credentialVersion: 0,
    })
  }
}

function heapUsed(collect: () => void): number {
  // Twice: the first pass can leave garbage that only a second pass frees (weak refs, finalizers).
  collect()
  collect()
  return process.memoryUsage().heapUsed
}

for (const indexed of [false, true]) {
  const before = heapUsed(gc)
  const store = new MemoryStore()
  await fill(store, indexed)
  const after = heapUsed(gc)
  const { sessions, users } = store.stats()
  const perSession = Math.round((after - before) / sessions)
  const label = indexed ? 'with userId (indexed)' : 'anonymous'
  console.log(`${label}: ${sessions} sessions, ${users} users, ${perSession} bytes/session`)
  await store.close()
}
