/**
 * The Lua scripts behind the Redis store, registered with ioredis `defineCommand` (EVALSHA
 * with an automatic EVAL fallback).
 *
 * Every write is one script that checks, writes, bumps the index and appends the change
 * batch to the stream, so Redis's script atomicity gives us what a transaction would.
 * Scripts touch only the keys passed in KEYS, all of which share one hash tag and therefore
 * one cluster slot (see `codec.ts`).
 *
 * Numbers never go through Lua arithmetic except the index increment: flags, indexes and
 * lock indexes travel as decimal strings, because Lua numbers print with 14 significant
 * digits and flags may use all 53 bits. String comparison avoids `<` too: Redis sets
 * LC_COLLATE from the environment, so Lua's strcoll-based `<` is not byte order.
 */

/** The `meta` hash field: "flags createIndex modifyIndex lockIndex[ session]". */
const metaLua = `
local function parseMeta(meta)
  local f, c, m, l, s = string.match(meta, '^(%d+) (%d+) (%d+) (%d+) ?(.*)$')
  return { f = f, c = c, m = m, l = l, s = s }
end
local function metaOf(e)
  local meta = e.f .. ' ' .. e.c .. ' ' .. e.m .. ' ' .. e.l
  if e.s ~= '' then meta = meta .. ' ' .. e.s end
  return meta
end
`;

/** ZRANGEBYLEX bounds for every key that starts with `prefix`. */
const rangeLua = `
local function prefixRange(prefix)
  if prefix == '' then return '-', '+' end
  -- 0xff never occurs in UTF-8, so every key starting with prefix sorts below this bound.
  return '[' .. prefix, '[' .. prefix .. '\\255'
end
`;

/**
 * The nonce of a stream entry `{id, fields}`: false if there is no entry, '' if it was
 * written before entries carried one.
 */
const nonceLua = `
local function nonceOf(entry)
  if not entry then return false end
  local f = entry[2]
  for i = 1, #f, 2 do
    if f[i] == 'n' then return f[i + 1] end
  end
  return ''
end
`;

/**
 * The transaction engine: KEYS = index, keys, values, meta, log, epoch; ARGV = a fresh
 * random ID (this batch's nonce, and the epoch if a new one is needed), history limit,
 * then 7 slots per op (verb, key, value, flags, index, session, lockIndex). Session slots
 * hold '' (keep), '-' (none) or '=' .. session; check-session never gets ''.
 *
 * Every op is evaluated, as in Consul, so the caller learns every problem at once; an op
 * that failed writes nothing, and later ops see the state without it. Replies
 * `{1, index, results, wrote}` on commit (index unchanged and wrote 0 when nothing changed)
 * or `{0, failures}`, each failure `{opIndex, kind, currentEntry|nil}`, having written
 * nothing. Results hold `{key, meta, value}` for reads, a list of those for get-tree,
 * `{key, meta}` for set and cas, and a count for deletes and checks.
 *
 * The batch holds the final state of each key the transaction touched, in first-touched
 * order; a key that ends as it started (created, then deleted) is left out, and a
 * transaction left with no change writes nothing at all.
 *
 * Each log entry carries `n` (its nonce) and `p` (the nonce of the entry before it), so
 * a reader can tell "the next batch of my history" from "a batch of the same index in a
 * history that replaced mine" (Redis lost its last writes, then others wrote past them).
 * If the index counter and the log's last entry disagree, some of our keys were lost
 * apart from the others (eviction, a partial restore): the write starts a new epoch, so
 * every watcher resyncs, and continues above both so stream IDs keep rising.
 */
export const TXN_LUA = `${metaLua}${rangeLua}${nonceLua}
local K_INDEX, K_KEYS, K_VALUES, K_META, K_LOG, K_EPOCH = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local current = redis.call('GET', K_INDEX) or '0'
local top = redis.call('XREVRANGE', K_LOG, '+', '-', 'COUNT', 1)[1]
local consistent
local base = current
if top then
  local topIndex = string.match(top[1], '^(%d+)%-0$') or current
  consistent = topIndex == current
  if tonumber(topIndex) > tonumber(current) then base = topIndex end
else
  consistent = current == '0'
end
local nextIndex = string.format('%d', tonumber(base) + 1)

-- The working copy: key -> entry table, or false once known absent. Reads see it first.
local wc, touched, existed = {}, {}, {}
local function load(key)
  local e = wc[key]
  if e == nil then
    local meta = redis.call('HGET', K_META, key)
    e = meta and parseMeta(meta) or false
    wc[key] = e
  end
  return e
end
local function valueOf(key, e)
  if e.v == nil then e.v = redis.call('HGET', K_VALUES, key) end
  return e.v
end
local function entry(key, e) return { key, metaOf(e), valueOf(key, e) } end
local function write(key, e)
  if existed[key] == nil then
    -- First write of this key: note whether it was stored. A key not yet loaded comes
    -- from tree(), which lists only stored or present keys.
    existed[key] = wc[key] ~= false
    touched[#touched + 1] = key
  end
  wc[key] = e
end
local function field(s) return #s .. ':' .. s end
local function bytesLess(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function tree(prefix)
  local stored = redis.call('ZRANGEBYLEX', K_KEYS, prefixRange(prefix))
  local out, seen, added = {}, {}, false
  for _, k in ipairs(stored) do
    seen[k] = true
    if wc[k] ~= false then out[#out + 1] = k end
  end
  for _, k in ipairs(touched) do
    if not seen[k] and wc[k] and string.sub(k, 1, #prefix) == prefix then
      out[#out + 1] = k; added = true
    end
  end
  if added then table.sort(out, bytesLess) end
  return out
end

local results, failures = {}, {}
-- Record why op i did not hold; the op writes nothing and evaluation goes on.
local function fail(i, kind, key, cur)
  failures[#failures + 1] = { i, kind, cur and entry(key, cur) or false }
  return 0
end
local nops = (#ARGV - 2) / 7
for i = 0, nops - 1 do
  local a = 3 + i * 7
  local verb, key = ARGV[a], ARGV[a + 1]
  local result = 0
  if verb == 'get' then
    local cur = load(key)
    if cur then result = entry(key, cur) else result = fail(i, 'get-missing', key, false) end
  elseif verb == 'get-tree' then
    result = {}
    for _, k in ipairs(tree(key)) do result[#result + 1] = entry(k, load(k)) end
  elseif verb == 'set' or verb == 'cas' then
    local cur = load(key)
    local ok = true
    if verb == 'cas' then
      local want = ARGV[a + 4]
      if want == '0' then
        if cur then ok = false; fail(i, 'exists', key, cur) end
      elseif not cur then ok = false; fail(i, 'missing', key, false)
      elseif cur.m ~= want then ok = false; fail(i, 'index', key, cur) end
    end
    if ok then
      local e = { v = ARGV[a + 2], f = ARGV[a + 3], m = nextIndex, c = cur and cur.c or nextIndex }
      local sess, lock = ARGV[a + 5], ARGV[a + 6]
      if sess == '' then e.s = cur and cur.s or ''
      elseif sess == '-' then e.s = ''
      else e.s = string.sub(sess, 2) end
      if lock == '' then e.l = cur and cur.l or '0' else e.l = lock end
      write(key, e)
      -- The caller has the value it sent; only the metadata needs to come back.
      result = { key, metaOf(e) }
    end
  elseif verb == 'delete' or verb == 'delete-cas' then
    local cur = load(key)
    if cur and verb == 'delete-cas' and cur.m ~= ARGV[a + 4] then
      fail(i, 'index', key, cur)
    elseif cur then
      write(key, false); result = 1
    end
  elseif verb == 'delete-tree' then
    for _, k in ipairs(tree(key)) do write(k, false); result = result + 1 end
  elseif verb == 'check-index' then
    local cur = load(key)
    if not cur then fail(i, 'missing', key, false)
    elseif cur.m ~= ARGV[a + 4] then fail(i, 'index', key, cur) end
  elseif verb == 'check-not-exists' then
    local cur = load(key)
    if cur then fail(i, 'exists', key, cur) end
  elseif verb == 'check-session' then
    -- A missing key fails either way, as in Consul (there is no lock state to check).
    local cur, want = load(key), ARGV[a + 5]
    if want ~= '-' and string.sub(want, 1, 1) ~= '=' then
      return redis.error_reply('check-session needs a session or none')
    end
    if not cur then fail(i, 'session', key, false)
    elseif (want == '-' and cur.s ~= '') or (want ~= '-' and cur.s ~= string.sub(want, 2)) then
      fail(i, 'session', key, cur)
    end
  else
    return redis.error_reply('unknown txn verb ' .. verb)
  end
  results[i + 1] = result
end
if #failures > 0 then return { 0, failures } end

-- One change per touched key: its final state, unless it ends as absent as it started.
local changes = {}
for _, k in ipairs(touched) do
  local e = wc[k]
  if e then
    changes[#changes + 1] = 'p' .. field(k) .. field(metaOf(e)) .. field(e.v)
  elseif existed[k] then
    changes[#changes + 1] = 'd' .. field(k)
  end
end
if #changes == 0 then return { 1, current, results, 0 } end

local epoch = redis.call('GET', K_EPOCH)
local prev = ''
if not epoch or not consistent then
  epoch = ARGV[1]
  redis.call('SET', K_EPOCH, epoch)
elseif top then
  prev = nonceOf(top)
end
redis.call('XADD', K_LOG, 'MAXLEN', '~', ARGV[2], nextIndex .. '-0',
  'e', epoch, 'n', ARGV[1], 'p', prev, 'b', table.concat(changes))
redis.call('SET', K_INDEX, nextIndex)
for _, k in ipairs(touched) do
  local e = wc[k]
  if e then
    redis.call('HSET', K_VALUES, k, e.v)
    redis.call('HSET', K_META, k, metaOf(e))
    redis.call('ZADD', K_KEYS, 0, k)
  elseif existed[k] then
    redis.call('HDEL', K_VALUES, k)
    redis.call('HDEL', K_META, k)
    redis.call('ZREM', K_KEYS, k)
  end
end
return { 1, nextIndex, results, 1 }
`;

/** KEYS = meta, values; ARGV = key. Replies `{meta, value}` or nil, read atomically. */
export const GET_LUA = `
local meta = redis.call('HGET', KEYS[1], ARGV[1])
if not meta then return false end
return { meta, redis.call('HGET', KEYS[2], ARGV[1]) }
`;

/**
 * KEYS = index, keys, values, meta; ARGV = prefix, separator ('' for none). Replies the
 * index, then `key, meta, value` triples in key order. With a separator, keys that will
 * be rolled up into a folder come with empty meta and value: their bytes are not needed.
 */
export const LIST_LUA = `${rangeLua}
local prefix, sep = ARGV[1], ARGV[2]
local out = { redis.call('GET', KEYS[1]) or '0' }
for _, k in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], prefixRange(prefix))) do
  out[#out + 1] = k
  if sep ~= '' and string.find(k, sep, #prefix + 1, true) then
    out[#out + 1] = ''
    out[#out + 1] = ''
  else
    out[#out + 1] = redis.call('HGET', KEYS[4], k)
    out[#out + 1] = redis.call('HGET', KEYS[3], k)
  end
end
return out
`;

/**
 * KEYS = index, epoch, log; ARGV = epoch candidate, an index to check. Replies `{index,
 * epoch, firstId, lastId, lastNonce, checkedNonce}` as one snapshot: the oldest and newest
 * log entries ('' when the log is empty) and the nonces of the newest entry and of the
 * entry at the checked index (see `nonceLua`). Creates the epoch if it is missing, so a
 * reset store gets a new one before anyone compares against it.
 */
export const PROBE_LUA = `${nonceLua}
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
local at = ARGV[2] .. '-0'
local checked = false
if ARGV[2] ~= '0' then checked = nonceOf(redis.call('XRANGE', KEYS[3], at, at)[1]) end
return {
  redis.call('GET', KEYS[1]) or '0', epoch, first and first[1] or '', last and last[1] or '',
  nonceOf(last), checked,
}
`;

/** Name → definition, for `defineCommand`. */
export const storeScripts = {
  cwTxn: { numberOfKeys: 6, lua: TXN_LUA },
  cwGet: { numberOfKeys: 2, lua: GET_LUA },
  cwList: { numberOfKeys: 4, lua: LIST_LUA },
  cwProbe: { numberOfKeys: 3, lua: PROBE_LUA },
} as const;

/** The commands `defineCommand` adds (the `…Buffer` variants reply with Buffers). */
export interface ScriptCommands {
  cwTxnBuffer(...args: (string | Buffer)[]): Promise<unknown>;
  cwGetBuffer(...args: (string | Buffer)[]): Promise<unknown>;
  cwListBuffer(...args: (string | Buffer)[]): Promise<unknown>;
  cwProbe(...args: string[]): Promise<unknown>;
}
