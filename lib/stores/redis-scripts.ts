/**
 * The Lua scripts behind {@link RedisStore} (lib/stores/redis.ts). Each one touches exactly one key
 * (`numberOfKeys: 1`), so it runs atomically on a single node and on Redis Cluster alike (a script
 * may only touch keys of one hash slot); CONSUME alone takes several keys, on a single node only. ioredis's `defineCommand` sends them with EVALSHA and falls
 * back to EVAL on `NOSCRIPT` (after a restart or a failover the script cache is empty).
 *
 * Scripts run with RESP2 reply conversion whatever protocol the connection speaks: a Lua table is
 * an array, `false` is nil, numbers are integers. A Lua table stops at its first nil, hence the
 * `or ''` wherever a field could be missing.
 *
 * Session hash fields (see the key layout in redis.ts): v version, d data, c createdAt,
 * l lastSeenAt, e expiresAt, a absoluteExpiresAt, r remember 0/1, u userId or '', h handle,
 * ua User-Agent, ip, cv credential version (a record written before cv existed reads as 0),
 * at authenticatedAt or '' (a record written before at existed reads as '').
 *
 * TTLs are relative milliseconds (`PEXPIRE`), computed by the caller from `expiresAt - now`, so a
 * clock difference between the app servers and Redis cannot shorten or stretch sessions.
 * `PEXPIRE` with a non-positive TTL deletes the key (documented Redis behaviour): a write or touch
 * that sets `expiresAt` in the past removes the record, as if it had expired.
 */

/** The commands the scripts add to the client (named `sessionkit*` to avoid clashing with yours). */
export interface ScriptCommands {
  /** The record's 13 fields as one JSON array (v d c l e a r u h ua ip cv at), or null if missing. */
  sessionkitGet(key: string): Promise<string | null>
  /** 1 if created, 0 if the key holds a live record. Not stored (but 1) if `ttlMs <= 0`. */
  sessionkitCreate(key: string, ttlMs: number, ...fields: string[]): Promise<number>
  /**
   * Compare-and-set. `rebindOk` '0' refuses to bind the session to a new user and answers
   * `['rebind', handle, absoluteExpiresAt]`, so the caller can index the session first.
   */
  sessionkitWrite(
    key: string,
    expectedVersion: string,
    rebindOk: '0' | '1',
    ttlMs: number,
    data: string,
    lastSeenAt: string,
    expiresAt: string,
    remember: string,
    userId: string,
    credentialVersion: string,
  ): Promise<WriteReply>
  /** 1 if refreshed, 0 if missing. */
  sessionkitTouch(key: string, ttlMs: number, lastSeenAt: string, expiresAt: string): Promise<number>
  /** `[userId or '', handle]` of the deleted record, or null if there was none. */
  sessionkitDestroy(key: string): Promise<[string, string] | null>
  /** `[count, pttlMs]`; with increment 0, a read (`[0, 0]` if missing); negative gives back. */
  sessionkitHit(key: string, windowMs: number, increment: number): Promise<[number, number]>
  /**
   * Check-and-increment of `numKeys` counters (then `limit, windowMs` per key): `[0, 0]` if
   * allowed and counted, else `[blocked (1-based), pttlMs]` with nothing changed.
   */
  sessionkitConsume(numKeys: number, ...keysThenLimitWindowPairs: Array<string | number>): Promise<[number, number]>
  /** Add `handle → "<redis ms>:<storageKey>"` and stretch the index TTL to at least `ttlMs`. */
  sessionkitIndexAdd(indexKey: string, handle: string, storageKey: string, ttlMs: number): Promise<number>
  /** Remove the given `handle, value` pairs if unchanged and older than `graceMs`; the count. */
  sessionkitIndexPrune(indexKey: string, graceMs: number, ...handleValuePairs: string[]): Promise<number>
  /**
   * INDEX_ADD under a per-user cap, in one atomic step on the index's slot. `seen` is
   * `handle, value, lastSeenAt` triples the caller read (lastSeenAt `''` = the session is gone).
   * Answers `['ok', value written, ...evicted (storage key, handle) pairs]` or `['refused']`.
   */
  sessionkitIndexAdmit(
    indexKey: string,
    handle: string,
    storageKey: string,
    ttlMs: number,
    max: number,
    policy: 'evict-oldest' | 'refuse',
    replacingKey: string,
    graceMs: number,
    ...seen: string[]
  ): Promise<string[]>
}

export type WriteReply =
  | ['ok', oldUserId: string, handle: string]
  | ['conflict']
  | ['missing']
  | ['rebind', handle: string, absoluteExpiresAt: string]

/**
 * One JSON string instead of 11 bulk replies: decoding 11 RESP strings (and encoding an 11-field
 * HMGET) cost the client about 5 µs more per read than parsing one JSON array, measured with
 * ioredis under 50 concurrent reads (bench/RESULTS.md). A record is written whole by one script,
 * so a missing field means no record. JSON text never holds a raw NUL or invalid UTF-8 (every
 * field was written from a JS string), so cjson's byte-wise encoding round-trips it.
 */
const GET = `
local v = redis.call('HMGET', KEYS[1], 'v', 'd', 'c', 'l', 'e', 'a', 'r', 'u', 'h', 'ua', 'ip', 'cv', 'at')
for i = 1, 11 do if not v[i] then return false end end
v[12] = v[12] or '0'
v[13] = v[13] or ''
return cjson.encode(v)
`

/** Fails (0) if the key exists; EXISTS already ignores an expired key (Redis expires on access). */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then return 1 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'c', ARGV[4], 'l', ARGV[5], 'e', ARGV[6],
  'a', ARGV[7], 'r', ARGV[8], 'u', ARGV[9], 'h', ARGV[10], 'ua', ARGV[11], 'ip', ARGV[12], 'cv', ARGV[13],
  'at', ARGV[14])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`

/**
 * Never creates: a missing key answers 'missing' before anything is written (HSET on a missing
 * key would resurrect a destroyed session). Versions compare as decimal strings, as stored.
 */
const WRITE = `
local cur = redis.call('HMGET', KEYS[1], 'v', 'u', 'h', 'a')
if not cur[1] then return {'missing'} end
if cur[1] ~= ARGV[1] then return {'conflict'} end
local old = cur[2] or ''
if ARGV[8] ~= '' and ARGV[8] ~= old and ARGV[2] ~= '1' then
  return {'rebind', cur[3] or '', cur[4] or '0'}
end
redis.call('HSET', KEYS[1], 'd', ARGV[4], 'l', ARGV[5], 'e', ARGV[6], 'r', ARGV[7], 'u', ARGV[8], 'cv', ARGV[9])
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'ok', old, cur[3] or ''}
`

const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'l', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`

const DESTROY = `
local cur = redis.call('HMGET', KEYS[1], 'u', 'h')
if redis.call('DEL', KEYS[1]) == 0 then return false end
return {cur[1] or '', cur[2] or ''}
`

/**
 * Fixed window: the first hit creates the counter and starts its window. INCRBY creates a key
 * without a TTL, so "no TTL" (PTTL -1) marks the first hit; it also catches a counter written by
 * something else, which must not lock a user out for good. Increment 0 only reads: a missing
 * counter is {0, 0} and nothing is created. A negative increment gives back (DECRBY keeps the
 * TTL), never below 0, and deletes the counter at 0.
 */
const HIT = `
local inc = tonumber(ARGV[2])
if inc <= 0 then
  local n = redis.call('GET', KEYS[1])
  if not n then return {0, 0} end
  n = tonumber(n)
  if inc < 0 then
    if n + inc <= 0 then
      redis.call('DEL', KEYS[1])
      return {0, 0}
    end
    n = redis.call('DECRBY', KEYS[1], -inc)
  end
  return {n, math.max(redis.call('PTTL', KEYS[1]), 0)}
end
local n = redis.call('INCRBY', KEYS[1], inc)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`

/**
 * Check all counters, then count all or nothing: one script, so parallel attempts cannot both
 * pass the check (a refused one writes nothing). A counter at its limit without a TTL (written by
 * something else) gets its window now, so it cannot lock for good. On a single node the keys may
 * hash anywhere; on Cluster the store calls this with one key at a time.
 */
const CONSUME = `
local n = #KEYS
local blocked, wait = 0, -1
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
    if ttl > wait then blocked, wait = i, ttl end
  end
end
if blocked > 0 then return {blocked, wait} end
for i = 1, n do
  redis.call('INCR', KEYS[i])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
end
return {0, 0}
`

/**
 * The value carries Redis's own clock (TIME, allowed in scripts since effects replication became
 * the default in Redis 5) so that pruning can spare entries younger than a grace period: see
 * INDEX_PRUNE_GRACE_MS in redis.ts. PTTL is -1 on a hash that has no TTL yet (just created), which
 * is below any positive TTL, so a new index always gets one. PEXPIRE ... GT would not do: it treats
 * "no TTL" as infinite and so never sets the first one.
 */
const INDEX_ADD = `
local t = redis.call('TIME')
local at = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], ARGV[1], at .. ':' .. ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`

/**
 * Deletes a field only if it still holds the value the caller saw dead (a newer entry for the same
 * handle survives) and was added at least ARGV[1] ms ago by Redis's clock. A value without a
 * timestamp (not written by INDEX_ADD) counts as old.
 */
const INDEX_PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v == ARGV[i + 1] then
    local at = tonumber(string.match(v, '^(%d+):') or '0')
    if at + grace <= now then
      redis.call('HDEL', KEYS[1], ARGV[i])
      n = n + 1
    end
  end
end
return n
`

/**
 * The per-user session cap, atomic because it runs on one key: the user's index (a session and its
 * index live on different Cluster slots, so the index is the only place all of a user's logins
 * meet). The script cannot read the sessions themselves, so the caller first reads them and passes
 * what it saw: entries it found gone are dropped (if unchanged and older than the grace period, as
 * in INDEX_PRUNE), entries it found live carry their lastSeenAt for the eviction order. Entries
 * the caller did not see (added since, by concurrent logins) count as live and as used when they
 * were added. So the count is decided here, atomically, whatever the caller read; the read only
 * informs which entries are dead and which is least recently used. lastSeenAt is the app servers'
 * clock and the added time Redis's: a skew between them only reorders evictions.
 * The new entry's value is returned so the caller can check it is still there after creating the
 * session (a concurrent admit may have evicted it in between).
 */
const INDEX_ADMIT = `
local t = redis.call('TIME')
local at = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local now = tonumber(at)
local grace = tonumber(ARGV[7])
local lastSeen = {}
for i = 8, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    if ARGV[i + 2] == '' then
      if tonumber(string.match(ARGV[i + 1], '^(%d+):') or '0') + grace <= now then
        redis.call('HDEL', KEYS[1], ARGV[i])
      end
    else
      lastSeen[ARGV[i]] = tonumber(ARGV[i + 2])
    end
  end
end
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local h, v = all[i], all[i + 1]
  local key = string.match(v, '^%d*:(.*)$') or v
  if h ~= ARGV[1] and key ~= ARGV[6] then
    live[#live + 1] = {h, key, lastSeen[h] or tonumber(string.match(v, '^(%d+):') or '0')}
  end
end
local max = tonumber(ARGV[4])
local reply = {'ok', at .. ':' .. ARGV[2]}
if #live >= max then
  if ARGV[5] == 'refuse' then return {'refused'} end
  table.sort(live, function(x, y) return x[3] < y[3] end)
  for i = 1, #live - max + 1 do
    redis.call('HDEL', KEYS[1], live[i][1])
    reply[#reply + 1] = live[i][2]
    reply[#reply + 1] = live[i][1]
  end
end
redis.call('HSET', KEYS[1], ARGV[1], reply[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return reply
`

/** Definitions for `client.defineCommand(name, definition)`. */
export const SCRIPTS: Record<keyof ScriptCommands, { numberOfKeys?: 1; lua: string }> = {
  sessionkitGet: { numberOfKeys: 1, lua: GET },
  sessionkitCreate: { numberOfKeys: 1, lua: CREATE },
  sessionkitWrite: { numberOfKeys: 1, lua: WRITE },
  sessionkitTouch: { numberOfKeys: 1, lua: TOUCH },
  sessionkitDestroy: { numberOfKeys: 1, lua: DESTROY },
  sessionkitHit: { numberOfKeys: 1, lua: HIT },
  // No numberOfKeys: the caller passes the key count first (ioredis's variadic form).
  sessionkitConsume: { lua: CONSUME },
  sessionkitIndexAdd: { numberOfKeys: 1, lua: INDEX_ADD },
  sessionkitIndexPrune: { numberOfKeys: 1, lua: INDEX_PRUNE },
  sessionkitIndexAdmit: { numberOfKeys: 1, lua: INDEX_ADMIT },
}
