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
 * The transaction engine: KEYS = index, keys, values, meta, log, epoch; ARGV = epoch
 * candidate, history limit, then 7 slots per op (verb, key, value, flags, index, session,
 * lockIndex). Session slots hold '' (keep), '-' (none) or '=' .. session.
 *
 * Replies `{1, index, results, wrote}` on commit (index unchanged and wrote 0 when nothing
 * changed) or `{0, opIndex, kind, currentEntry|nil}` when an op's condition failed, having
 * written nothing. Results hold `{key, meta, value}` for reads, a list of those for
 * get-tree, `{key, meta}` for set and cas, and a count for deletes and checks.
 */
export const TXN_LUA = `${metaLua}${rangeLua}
local K_INDEX, K_KEYS, K_VALUES, K_META, K_LOG, K_EPOCH = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local current = redis.call('GET', K_INDEX) or '0'
local nextIndex = string.format('%d', tonumber(current) + 1)

-- The working copy: key -> entry table, or false once known absent. Reads see it first.
local wc, touched, dirty, changes = {}, {}, {}, {}
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
  wc[key] = e
  if not dirty[key] then dirty[key] = true; touched[#touched + 1] = key end
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
local function fail(i, kind, key, cur)
  return { 0, i, kind, cur and entry(key, cur) or false }
end
local function remove(key)
  write(key, false)
  changes[#changes + 1] = 'd' .. field(key)
end

local results = {}
local nops = (#ARGV - 2) / 7
for i = 0, nops - 1 do
  local a = 3 + i * 7
  local verb, key = ARGV[a], ARGV[a + 1]
  local result = 0
  if verb == 'get' then
    local cur = load(key)
    if not cur then return fail(i, 'get-missing', key, false) end
    result = entry(key, cur)
  elseif verb == 'get-tree' then
    result = {}
    for _, k in ipairs(tree(key)) do result[#result + 1] = entry(k, load(k)) end
  elseif verb == 'set' or verb == 'cas' then
    local cur = load(key)
    if verb == 'cas' then
      local want = ARGV[a + 4]
      if want == '0' then
        if cur then return fail(i, 'exists', key, cur) end
      elseif not cur then return fail(i, 'missing', key, false)
      elseif cur.m ~= want then return fail(i, 'index', key, cur) end
    end
    local e = { v = ARGV[a + 2], f = ARGV[a + 3], m = nextIndex, c = cur and cur.c or nextIndex }
    local sess, lock = ARGV[a + 5], ARGV[a + 6]
    if sess == '' then e.s = cur and cur.s or ''
    elseif sess == '-' then e.s = ''
    else e.s = string.sub(sess, 2) end
    if lock == '' then e.l = cur and cur.l or '0' else e.l = lock end
    write(key, e)
    changes[#changes + 1] = 'p' .. field(key) .. field(metaOf(e)) .. field(e.v)
    -- The caller has the value it sent; only the metadata needs to come back.
    result = { key, metaOf(e) }
  elseif verb == 'delete' or verb == 'delete-cas' then
    local cur = load(key)
    if cur and verb == 'delete-cas' and cur.m ~= ARGV[a + 4] then
      return fail(i, 'index', key, cur)
    end
    if cur then remove(key); result = 1 end
  elseif verb == 'delete-tree' then
    for _, k in ipairs(tree(key)) do remove(k); result = result + 1 end
  elseif verb == 'check-index' then
    local cur = load(key)
    if not cur then return fail(i, 'missing', key, false) end
    if cur.m ~= ARGV[a + 4] then return fail(i, 'index', key, cur) end
  elseif verb == 'check-not-exists' then
    local cur = load(key)
    if cur then return fail(i, 'exists', key, cur) end
  elseif verb == 'check-session' then
    -- A missing key fails either way, as in Consul (there is no lock state to check).
    local cur, want = load(key), ARGV[a + 5]
    if not cur then return fail(i, 'session', key, false) end
    if (want == '-' and cur.s ~= '') or (want ~= '-' and cur.s ~= string.sub(want, 2)) then
      return fail(i, 'session', key, cur)
    end
  else
    return redis.error_reply('unknown txn verb ' .. verb)
  end
  results[i + 1] = result
end

if #changes == 0 then return { 1, current, results, 0 } end
local epoch = redis.call('GET', K_EPOCH)
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', K_EPOCH, epoch)
end
-- XADD first: it is the one call that can fail (an ID not above the stream's last one, if
-- the index key was lost), and failing before the data writes keeps the namespace intact.
redis.call('XADD', K_LOG, 'MAXLEN', '~', ARGV[2], nextIndex .. '-0', 'e', epoch, 'b', table.concat(changes))
redis.call('SET', K_INDEX, nextIndex)
for _, k in ipairs(touched) do
  local e = wc[k]
  if e then
    redis.call('HSET', K_VALUES, k, e.v)
    redis.call('HSET', K_META, k, metaOf(e))
    redis.call('ZADD', K_KEYS, 0, k)
  else
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
 * KEYS = index, epoch, log; ARGV = epoch candidate. Replies `{index, epoch, firstId}` as one
 * snapshot (firstId '' when the stream is empty), creating the epoch if it is missing so a
 * reset store gets a new one before anyone compares against it.
 */
export const PROBE_LUA = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
return { redis.call('GET', KEYS[1]) or '0', epoch, first[1] and first[1][1] or '' }
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
