-- Apply a batch of operations (one for POST /orders or /status, up to 100 for /batch) to one
-- workspace, atomically and in order: check each transition, write the order hash, keep the
-- search indexes, XADD the event and PUBLISH the wake-up. Publish order = commit order.
--
-- KEYS: 1 seq, 2 epoch, 3 ids, 4 events stream, 5 live channel, 6 idempotency record,
--       7 rate-limit state of the caller's API key, 8 the stream's first event id,
--       9 the workflow's version
-- ARGV: the request's fields, then OPW fields per op; store/argv.py names them all (HEAD,
--       CREATE, CHANGE), and its names are rendered here as the tables H, C and S.
-- Returns {reply, rate remaining, rate reset (us), rate retry-after (us)}: a refused write
-- (retry-after > 0) has reply '' and changed nothing. Else reply is a JSON array, one result
-- per op:
--   ["ok", id, number, version, changed(0|1), order_json]  (re-sending the current status is
--   changed 0, unless it is a handed_to status with another recipient: see change())
--   ["err", "notfound" | "transition" | "version" | "ref" | "exists", detail...]
-- or ["idem", "replay", stored] / ["idem", "mismatch"] when the idempotency key was seen, or
-- ["workflow", version] (and nothing done) when the workflow the ops were checked against is
-- no longer the workspace's.

local OPW = {{OPW}}
local H = {{ARGV_HEAD}}  -- positions in ARGV
local FIRST_OP = {{ARGV_FIRST_OP}}  -- where the first op's fields start
local C = {{ARGV_CREATE}}  -- offsets in a create op
local S = {{ARGV_CHANGE}}  -- offsets in a status change op
local ws = ARGV[H.workspace]
local order_prefix = ARGV[H.order_prefix]
local ix = ARGV[H.index_prefix]
local maxlen = ARGV[H.maxlen]
local idem_hash = ARGV[H.idem_hash]

-- The ops were checked against a workflow (transitions, roles): a change of it since (another
-- process may have cached the old one) could move an order into a status it removed.
if (redis.call('GET', KEYS[9]) or '0') ~= ARGV[H.workflow_version] then
  return {cjson.encode({'workflow', redis.call('GET', KEYS[9]) or '0'}), -1, 0, 0}
end

-- The rate limit comes first: a refused request costs one GET and changes nothing.
local rl = {-1, 0, 0}
if ARGV[H.rate_interval] ~= '0' then
  rl = gcra(KEYS[7], tonumber(ARGV[H.rate_interval]), tonumber(ARGV[H.rate_burst]))
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
    if ARGV[H.confirm] == '1' then
      -- A WAIT follows (store/replication.py): this write puts the connection's replication
      -- position past the original write's, so replicas confirming it have that write too.
      redis.call('SET', KEYS[6], seen, 'KEEPTTL')
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

-- A name, item or word index also puts its value in its kind's vocabulary (a lexicographic
-- zset), where a search finds every value starting with what was typed (store/orders.py).
-- The retention sweep takes a value out once its last order is gone.
local function index_text(h, kind, value)
  index(h, kind .. value)
  redis.call('ZADD', ix .. IX_VOCAB .. kind, 0, value)
end

local function add_staff(h, role, index_id, lname)
  if index_id == '' then return end
  index(h, IX_SID .. index_id)
  index_text(h, IX_SNAME, lname)
  index(h, IX_RID .. role .. ':' .. index_id)
  index(h, IX_RNAME .. role .. ':' .. lname)
end

local function add_tokens(h, joined)
  for _, tok in ipairs(split(joined)) do index_text(h, IX_TOKEN, tok) end
end

local function emit(h, event, prev)
  local prev_json = prev and ('"' .. prev .. '"') or 'null'
  local rest = '"event":"' .. event .. '","previous_status":' .. prev_json .. ',"order":'
    .. order_json(h, ws) .. '}'
  append_event(KEYS[4], KEYS[8], KEYS[5], ARGV[H.publish], epoch, maxlen, h.st, rest)
end

local function create(o)
  local id = ARGV[o + C.id]
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    return {'err', 'exists', id}
  end
  local n = redis.call('INCR', KEYS[1])
  local h = {
    id = id, n = tostring(n), st = ARGV[o + C.status], v = '1', ca = at, cms = tostring(ms),
    ua = at, items = ARGV[o + C.items], cust = ARGV[o + C.customer], cash = ARGV[o + C.actor],
    prep = '', hto = '', hby = '', meta = ARGV[o + C.metadata],
  }
  h.h = add_history(h, nil, ARGV[o + C.actor], '', at)
  redis.call('HSET', KEYS[3], id, n)
  redis.call('ZADD', ix .. IX_ALL, n, n)
  redis.call('ZADD', ix .. IX_CREATED, ms, n)
  redis.call('ZADD', ix .. IX_STATUS .. h.st, n, n)
  index(h, IX_CID .. ARGV[o + C.customer_id])
  index_text(h, IX_CNAME, ARGV[o + C.customer_name])
  add_staff(h, 'cashier', ARGV[o + C.actor_id], ARGV[o + C.actor_name])
  for _, item in ipairs(split(ARGV[o + C.item_names])) do index_text(h, IX_ITEM, item) end
  add_tokens(h, ARGV[o + C.words])
  local key = order_prefix .. n
  redis.call('HSET', key, 'id', h.id, 'n', h.n, 'st', h.st, 'v', h.v, 'ca', h.ca, 'cms', h.cms,
    'ua', h.ua, 'items', h.items, 'cust', h.cust, 'cash', h.cash, 'prep', '', 'hto', '',
    'hby', '', 'meta', h.meta, 'h', h.h, 'ixk', h.ixk or '')
  emit(h, 'order.created', nil)
  return {'ok', id, n, 1, 1, order_json(h, ws)}
end

local function change(o, created)
  local id = ARGV[o + S.id]
  if id == '' then
    local earlier = created[tonumber(ARGV[o + S.ref_op])]
    if not earlier then return {'err', 'ref', ARGV[o + S.ref_op]} end
    id = earlier
  end
  local n = redis.call('HGET', KEYS[3], id)
  if not n then return {'err', 'notfound', id} end
  local key = order_prefix .. n
  local h = hash_to_table(redis.call('HGETALL', key))
  local target = ARGV[o + S.status]
  local expected = ARGV[o + S.version]
  if expected ~= '' and expected ~= h.v then
    return {'err', 'version', id, h.v, expected}
  end
  local role = ARGV[o + S.role]
  local recipient = ARGV[o + S.handed_to]
  if h.st == target then
    -- Re-sending the current status changes nothing, except a handed_to status naming another
    -- recipient: that is recorded (history entry, 'order.updated' event), never dropped.
    if role ~= 'handed_to' or recipient == '' or recipient == h.hto then
      return {'ok', id, tonumber(n), tonumber(h.v), 0, order_json(h, ws)}
    end
  else
    local allowed = false
    for _, src in ipairs(split(ARGV[o + S.sources])) do
      if src == h.st then allowed = true break end
    end
    if not allowed then return {'err', 'transition', id, h.st, target} end
  end

  local prev = h.st
  local actor = ARGV[o + S.actor]
  h.st = target
  h.v = tostring(tonumber(h.v) + 1)
  h.ua = at
  local extra = ''
  if role == 'preparer' and actor ~= '' then
    h.prep = actor
    add_staff(h, 'preparer', ARGV[o + S.actor_id], ARGV[o + S.actor_name])
  elseif role == 'handed_to' then
    if recipient ~= '' then
      h.hto = recipient
      extra = ',"handed_to":' .. h.hto
      add_staff(h, 'handed_to', ARGV[o + S.handed_to_id], ARGV[o + S.handed_to_name])
    end
    if actor ~= '' then
      h.hby = actor
      add_staff(h, 'handed_to', ARGV[o + S.actor_id], ARGV[o + S.actor_name])
    end
  end
  if ARGV[o + S.reason] ~= '' then extra = extra .. ',"reason":' .. ARGV[o + S.reason] end
  h.h = add_history(h, prev, actor, extra, at)
  if prev ~= target then
    redis.call('ZREM', ix .. IX_STATUS .. prev, n)
    redis.call('ZADD', ix .. IX_STATUS .. target, n, n)
  end
  add_tokens(h, ARGV[o + S.words])
  redis.call('HSET', key, 'st', h.st, 'v', h.v, 'ua', h.ua, 'prep', h.prep, 'hto', h.hto,
    'hby', h.hby, 'h', h.h, 'ixk', h.ixk or '')
  emit(h, prev ~= target and 'order.status_changed' or 'order.updated', prev)
  return {'ok', id, tonumber(n), tonumber(h.v), 1, order_json(h, ws)}
end

local results = {}
local created = {}
local nops = tonumber(ARGV[H.ops])
for i = 1, nops do
  local o = FIRST_OP + (i - 1) * OPW
  local r
  if ARGV[o + C.kind] == 'c' then
    r = create(o)
    if r[1] == 'ok' then created[i] = r[2] end
  else
    r = change(o, created)
  end
  results[i] = r
end

local out = cjson.encode(results)
if idem_hash ~= '' then
  redis.call('SET', KEYS[6], idem_hash .. '|' .. out, 'EX', ARGV[H.idem_ttl])
end
return reply(out)
