-- Apply a batch of operations (one for POST /orders or /status, up to 100 for /batch) to one
-- workspace, atomically and in order: check each transition, write the order hash, keep the
-- search indexes, XADD the event and PUBLISH the wake-up. Publish order = commit order.
--
-- KEYS: 1 seq, 2 epoch, 3 ids, 4 events stream, 5 live channel, 6 idempotency record,
--       7 rate-limit state of the caller's API key
-- ARGV: 1 workspace id, 2 order key prefix, 3 index key prefix, 4 stream MAXLEN (~),
--       5 idempotency body hash ('' = no key), 6 idempotency ttl (s), 7 publish command,
--       8 number of ops, 9 rate-limit emission interval in us (0 = no limit), 10 rate burst,
--       then from ARGV[11] OPW fields per op (see store/ops.py).
-- Returns {reply, rate remaining, rate reset (us), rate retry-after (us)}: a refused write
-- (retry-after > 0) has reply '' and changed nothing. Else reply is a JSON array, one result
-- per op:
--   ["ok", id, number, version, changed(0|1), order_json]
--   ["err", "notfound" | "transition" | "version" | "ref" | "exists", detail...]
-- or ["idem", "replay", stored] / ["idem", "mismatch"] when the idempotency key was seen.

local OPW = 16
local ws = ARGV[1]
local order_prefix = ARGV[2]
local ix = ARGV[3]
local maxlen = ARGV[4]
local idem_hash = ARGV[5]

-- The rate limit comes first: a refused request costs one GET and changes nothing.
local rl = {-1, 0, 0}
if ARGV[9] ~= '0' then
  rl = gcra(KEYS[7], tonumber(ARGV[9]), tonumber(ARGV[10]))
  if rl[3] > 0 then return {'', rl[1], rl[2], rl[3]} end
end
local function reply(s) return {s, rl[1], rl[2], rl[3]} end

if idem_hash ~= '' then
  local seen = redis.call('GET', KEYS[6])
  if seen then
    local sep = string.find(seen, '|', 1, true)
    if string.sub(seen, 1, sep - 1) ~= idem_hash then
      return reply(cjson.encode({'idem', 'mismatch'}))
    end
    return reply(cjson.encode({'idem', 'replay', string.sub(seen, sep + 1)}))
  end
end

local epoch = ensure_epoch(KEYS[2])

local ms = now_ms()
local at = iso(ms)

-- Add the order to an index; h.ixk lists (SEP-joined) the suffixes it was added to, so the
-- retention sweep can remove every entry without re-deriving them (ZADD answers 1 only when
-- the order was not in that index yet: no duplicates in the list).
local function index(h, suffix)
  if redis.call('ZADD', ix .. suffix, h.n, h.n) == 1 then
    h.ixk = (h.ixk == nil or h.ixk == '') and suffix or (h.ixk .. SEP .. suffix)
  end
end

local function add_staff(h, role, index_id, lname)
  if index_id == '' then return end
  index(h, IX_SID .. index_id)
  index(h, IX_SNAME .. lname)
  index(h, IX_RID .. role .. ':' .. index_id)
  index(h, IX_RNAME .. role .. ':' .. lname)
end

local function add_tokens(h, joined)
  for _, tok in ipairs(split(joined)) do index(h, IX_TOKEN .. tok) end
end

local function emit(h, event, prev)
  local prev_json = prev and ('"' .. prev .. '"') or 'null'
  local rest = '"event":"' .. event .. '","previous_status":' .. prev_json .. ',"order":'
    .. order_json(h, ws) .. '}'
  local id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', 's', h.st, 'f', rest)
  redis.call(ARGV[7], KEYS[5], id .. '\n' .. h.st .. '\n' .. epoch .. '\n' .. rest)
end

local function history(h, prev, actor, extra)
  local entry = '{"version":' .. h.v .. ',"status":"' .. h.st .. '","previous_status":'
    .. (prev and ('"' .. prev .. '"') or 'null') .. ',"at":"' .. at .. '","actor":'
    .. json_or_null(actor) .. extra .. '}'
  if h.h == nil or h.h == '' then return entry end
  return h.h .. ',' .. entry
end

local function create(o)
  local id = ARGV[o + 1]
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    return {'err', 'exists', id}
  end
  local n = redis.call('INCR', KEYS[1])
  local h = {
    id = id, n = tostring(n), st = ARGV[o + 2], v = '1', ca = at, cms = tostring(ms), ua = at,
    items = ARGV[o + 9], cust = ARGV[o + 3], cash = ARGV[o + 6], prep = '', hto = '',
    hby = '', meta = ARGV[o + 12],
  }
  h.h = history(h, nil, ARGV[o + 6], '')
  redis.call('HSET', KEYS[3], id, n)
  redis.call('ZADD', ix .. IX_ALL, n, n)
  redis.call('ZADD', ix .. IX_CREATED, ms, n)
  redis.call('ZADD', ix .. IX_STATUS .. h.st, n, n)
  index(h, IX_CID .. ARGV[o + 4])
  index(h, IX_CNAME .. ARGV[o + 5])
  add_staff(h, 'cashier', ARGV[o + 7], ARGV[o + 8])
  for _, item in ipairs(split(ARGV[o + 10])) do index(h, IX_ITEM .. item) end
  add_tokens(h, ARGV[o + 11])
  local key = order_prefix .. n
  redis.call('HSET', key, 'id', h.id, 'n', h.n, 'st', h.st, 'v', h.v, 'ca', h.ca, 'cms', h.cms,
    'ua', h.ua, 'items', h.items, 'cust', h.cust, 'cash', h.cash, 'prep', '', 'hto', '',
    'hby', '', 'meta', h.meta, 'h', h.h, 'ixk', h.ixk or '')
  emit(h, 'order.created', nil)
  return {'ok', id, n, 1, 1, order_json(h, ws)}
end

local function change(o, created)
  local id = ARGV[o + 1]
  if id == '' then
    local earlier = created[tonumber(ARGV[o + 3])]
    if not earlier then return {'err', 'ref', ARGV[o + 3]} end
    id = earlier
  end
  local n = redis.call('HGET', KEYS[3], id)
  if not n then return {'err', 'notfound', id} end
  local key = order_prefix .. n
  local h = hash_to_table(redis.call('HGETALL', key))
  local target = ARGV[o + 2]
  local expected = ARGV[o + 13]
  if expected ~= '' and expected ~= h.v then
    return {'err', 'version', id, h.v, expected}
  end
  if h.st == target then
    return {'ok', id, tonumber(n), tonumber(h.v), 0, order_json(h, ws)}
  end
  local allowed = false
  for _, src in ipairs(split(ARGV[o + 4])) do
    if src == h.st then allowed = true break end
  end
  if not allowed then return {'err', 'transition', id, h.st, target} end

  local prev = h.st
  local role = ARGV[o + 5]
  local actor = ARGV[o + 6]
  h.st = target
  h.v = tostring(tonumber(h.v) + 1)
  h.ua = at
  local extra = ''
  if role == 'preparer' and actor ~= '' then
    h.prep = actor
    add_staff(h, 'preparer', ARGV[o + 7], ARGV[o + 8])
  elseif role == 'handed_to' then
    if ARGV[o + 9] ~= '' then
      h.hto = ARGV[o + 9]
      extra = ',"handed_to":' .. h.hto
      add_staff(h, 'handed_to', ARGV[o + 10], ARGV[o + 11])
    end
    if actor ~= '' then
      h.hby = actor
      add_staff(h, 'handed_to', ARGV[o + 7], ARGV[o + 8])
    end
  end
  if ARGV[o + 12] ~= '' then extra = extra .. ',"reason":' .. ARGV[o + 12] end
  h.h = history(h, prev, actor, extra)
  redis.call('ZREM', ix .. IX_STATUS .. prev, n)
  redis.call('ZADD', ix .. IX_STATUS .. target, n, n)
  add_tokens(h, ARGV[o + 14])
  redis.call('HSET', key, 'st', h.st, 'v', h.v, 'ua', h.ua, 'prep', h.prep, 'hto', h.hto,
    'hby', h.hby, 'h', h.h, 'ixk', h.ixk or '')
  emit(h, 'order.status_changed', prev)
  return {'ok', id, tonumber(n), tonumber(h.v), 1, order_json(h, ws)}
end

local results = {}
local created = {}
local nops = tonumber(ARGV[8])
for i = 1, nops do
  local o = 11 + (i - 1) * OPW  -- ARGV[o] is the op's kind, ARGV[o + k] its k-th field
  local r
  if ARGV[o] == 'c' then
    r = create(o)
    if r[1] == 'ok' then created[i] = r[2] end
  else
    r = change(o, created)
  end
  results[i] = r
end

local out = cjson.encode(results)
if idem_hash ~= '' then
  redis.call('SET', KEYS[6], idem_hash .. '|' .. out, 'EX', ARGV[6])
end
return reply(out)
