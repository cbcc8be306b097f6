/**
 * Lua scripts of {@link RedisUserStore} (lib/users/redis.ts). Each names every key it touches in
 * KEYS, and all those keys carry one hash tag, so each script runs atomically on one node and on
 * Redis Cluster alike. That is what makes the cross-user rules hold across every process: the
 * email check and the "last enabled admin" check run in the same atomic step as the change.
 *
 * Every script that changes a user writes the user's hash, which is what tells the other
 * processes: Redis's client tracking invalidates that key in every process that read it
 * (lib/users/redis.ts), in the same step as the change.
 *
 * User hash fields: id, email, name, role, disabled ('0'/'1'), hash (bcrypt), cv (credential
 * version). A script answers `{'ok', <fields as one JSON array>}` or `{'<reason>'}`.
 */

/** id email name role disabled hash cv, as one JSON array (cjson keeps field order in arrays). */
const READ = `
local function read(key)
  local f = redis.call('HMGET', key, 'id', 'email', 'name', 'role', 'disabled', 'hash', 'cv')
  return cjson.encode(f)
end
`

/** KEYS: user, email index, id index, admins. ARGV: id email name role disabled hash. */
const CREATE = `${READ}
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return {'taken'} end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'email', ARGV[2], 'name', ARGV[3], 'role', ARGV[4],
  'disabled', ARGV[5], 'hash', ARGV[6], 'cv', 1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
if ARGV[4] == 'admin' and ARGV[5] == '0' then redis.call('SADD', KEYS[4], ARGV[1]) end
return {'ok', read(KEYS[1])}
`

/**
 * KEYS: user, admins. ARGV: name role disabled ('' = unchanged). Role or disabled
 * changes bump cv; the admins set holds exactly the enabled admins.
 */
const UPDATE = `${READ}
local cur = redis.call('HMGET', KEYS[1], 'id', 'role', 'disabled')
if not cur[1] then return {'missing'} end
local role = ARGV[2] ~= '' and ARGV[2] or cur[2]
local disabled = ARGV[3] ~= '' and ARGV[3] or cur[3]
local was = cur[2] == 'admin' and cur[3] == '0'
local is = role == 'admin' and disabled == '0'
if was and not is and redis.call('SCARD', KEYS[2]) <= 1 then return {'last-admin'} end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'name', ARGV[1]) end
if role ~= cur[2] or disabled ~= cur[3] then
  redis.call('HSET', KEYS[1], 'role', role, 'disabled', disabled)
  redis.call('HINCRBY', KEYS[1], 'cv', 1)
end
if is then redis.call('SADD', KEYS[2], cur[1]) else redis.call('SREM', KEYS[2], cur[1]) end
return {'ok', read(KEYS[1])}
`

/** KEYS: user. ARGV: hash. */
const SET_PASSWORD = `${READ}
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return {'missing'} end
redis.call('HSET', KEYS[1], 'hash', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'cv', 1)
return {'ok', read(KEYS[1])}
`

/** KEYS: user, email index, id index, admins. */
const DELETE = `
local cur = redis.call('HMGET', KEYS[1], 'id', 'email')
if not cur[1] then return {'missing'} end
if redis.call('SISMEMBER', KEYS[4], cur[1]) == 1 and redis.call('SCARD', KEYS[4]) <= 1 then
  return {'last-admin'}
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], cur[2])
redis.call('ZREM', KEYS[3], cur[1])
redis.call('SREM', KEYS[4], cur[1])
return {'ok'}
`

/** KEYS: user. The user as JSON, or false. */
const GET = `${READ}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return read(KEYS[1])
`

export type ScriptReply = [string, string?]

export interface UserScriptCommands {
  sessionkitUserCreate(...args: string[]): Promise<ScriptReply>
  sessionkitUserUpdate(...args: string[]): Promise<ScriptReply>
  sessionkitUserSetPassword(...args: string[]): Promise<ScriptReply>
  sessionkitUserDelete(...args: string[]): Promise<ScriptReply>
  sessionkitUserGet(key: string): Promise<string | null>
}

export const USER_SCRIPTS: Record<keyof UserScriptCommands, { numberOfKeys: number; lua: string }> = {
  sessionkitUserCreate: { numberOfKeys: 4, lua: CREATE },
  sessionkitUserUpdate: { numberOfKeys: 2, lua: UPDATE },
  sessionkitUserSetPassword: { numberOfKeys: 1, lua: SET_PASSWORD },
  sessionkitUserDelete: { numberOfKeys: 4, lua: DELETE },
  sessionkitUserGet: { numberOfKeys: 1, lua: GET },
}
