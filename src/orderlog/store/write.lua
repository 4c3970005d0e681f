-- Apply a batch of operations (one for POST /orders, /status, /priority or an item's /done, up
-- to 100 for /batch) to one workspace, atomically and in order: check each transition, write
-- the order hash, keep the search indexes, XADD the event and PUBLISH the wake-up. Publish
-- order = commit order.
--
-- KEYS: 1 seq, 2 epoch, 3 ids, 4 events stream, 5 live channel, 6 idempotency record,
--       7 rate-limit state of the caller's API key, 8 the stream's first event id,
--       9 the workflow's version
-- ARGV: the request's fields, then OPW fields per op; store/argv.py names them all (HEAD,
--       CREATE, CHANGE, PRIORITY, ITEM), and its names are rendered here as the tables H, C,
--       S, P and I.
-- Returns {reply, rate remaining, rate reset (us), rate retry-after (us)}: a refused write
-- (retry-after > 0) has reply '' and changed nothing. Else reply is a JSON array, one result
-- per op:
--   ["ok", id, number, version, changed(0|1), order_json]  (re-sending the current status is
--   changed 0, unless it is a handed_to status with another recipient: see change())
--   ["err", "notfound" | "transition" | "version" | "ref" | "exists" | "closed" | "item",
--    detail...]
-- or ["idem", "replay", stored] / ["idem", "mismatch"] when the idempotency key was seen, or
-- ["workflow", version] (and nothing done) when the workflow the ops were checked against is
-- no longer the workspace's.

local OPW = {{OPW}}
local H = {{ARGV_HEAD}}  -- positions in ARGV
local FIRST_OP = {{ARGV_FIRST_OP}}  -- where the first op's fields start
local C = {{ARGV_CREATE}}  -- offsets in a create op
local S = {{ARGV_CHANGE}}  -- offsets in a status change op
local U = {{ARGV_OPEN}}  -- offsets every op on an open order starts with
local P = {{ARGV_PRIORITY}}  -- offsets in a priority op
local I = {{ARGV_ITEM}}  -- offsets in an item done mark op
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
local now = now_us()
local rl = {-1, 0, 0}
if ARGV[H.rate_interval] ~= '0' then
  rl = gcra(KEYS[7], tonumber(ARGV[H.rate_interval]), tonumber(ARGV[H.rate_burst]), now)
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

local ms = now_ms(now)
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
-- The retention sweep takes a value out once its last order is gone. ``values``: one or more
-- values of one kind, added to the vocabulary VOCAB_CHUNK at a time per ZADD (an order's words
-- are in one or two; unpack has a limit of ~8,000 values and a long order has more words).
local VOCAB_CHUNK = 500
local function index_text(h, kind, values)
  local members = {}
  for _, value in ipairs(values) do
    index(h, kind .. value)
    members[#members + 1] = 0
    members[#members + 1] = value
    if #members == 2 * VOCAB_CHUNK then
      redis.call('ZADD', ix .. IX_VOCAB .. kind, unpack(members))
      members = {}
    end
  end
  if #members > 0 then redis.call('ZADD', ix .. IX_VOCAB .. kind, unpack(members)) end
end

local function add_staff(h, role, index_id, lname)
  if index_id == '' then return end
  index(h, IX_SID .. index_id)
  index_text(h, IX_SNAME, {lname})
  index(h, IX_RID .. role .. ':' .. index_id)
  index(h, IX_RNAME .. role .. ':' .. lname)
end

local function add_tokens(h, joined)
  index_text(h, IX_TOKEN, split(joined))
end

-- ``members``: JSON members the event carries before its order (',"k":v...'), or nil.
-- Returns the order's JSON (the op's result carries the same).
local function emit(h, event, prev, members)
  local prev_json = prev and ('"' .. prev .. '"') or 'null'
  local order = order_json(h, ws)
  local rest = '"event":"' .. event .. '","previous_status":' .. prev_json .. (members or '')
    .. ',"order":' .. order .. '}'
  append_event(KEYS[4], KEYS[8], KEYS[5], ARGV[H.publish], epoch, maxlen, h.st, rest)
  return order
end

local function create(o)
  local id = ARGV[o + C.id]
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    return {'err', 'exists', id}
  end
  local n = redis.call('INCR', KEYS[1])
  local h = {
    id = id, n = tostring(n), st = ARGV[o + C.status], v = '1', ca = at, cms = tostring(ms),
    ua = at, sa = at, items = ARGV[o + C.items], cust = ARGV[o + C.customer],
    cash = ARGV[o + C.actor], prep = '', hto = '', hby = '', meta = ARGV[o + C.metadata],
    pri = ARGV[o + C.priority],
  }
  h.h = add_history(h, nil, ARGV[o + C.actor], '', at)
  redis.call('HSET', KEYS[3], id, n)
  redis.call('ZADD', ix .. IX_ALL, n, n)
  redis.call('ZADD', ix .. IX_CREATED, ms, n)
  redis.call('ZADD', ix .. IX_STATUS .. h.st, n, n)
  index(h, IX_CID .. ARGV[o + C.customer_id])
  index_text(h, IX_CNAME, {ARGV[o + C.customer_name]})
  add_staff(h, 'cashier', ARGV[o + C.actor_id], ARGV[o + C.actor_name])
  index_text(h, IX_ITEM, split(ARGV[o + C.item_names]))
  add_tokens(h, ARGV[o + C.words])
  local key = order_prefix .. n
  redis.call('HSET', key, 'id', h.id, 'n', h.n, 'st', h.st, 'v', h.v, 'ca', h.ca, 'cms', h.cms,
    'ua', h.ua, 'sa', h.sa, 'items', h.items, 'cust', h.cust, 'cash', h.cash, 'prep', '',
    'hto', '', 'hby', '', 'meta', h.meta, 'pri', h.pri, 'h', h.h, 'ixk', h.ixk or '')
  return {'ok', id, n, 1, 1, emit(h, 'order.created', nil)}
end

-- The order an op names (by id, or by the number of an earlier create op of this request), at
-- the version it expects: {id, number, key, hash}, or an error result.
local function find(id, ref_op, expected, created)
  if id == '' then
    local earlier = created[tonumber(ref_op)]
    if not earlier then return nil, {'err', 'ref', ref_op} end
    id = earlier
  end
  local n = redis.call('HGET', KEYS[3], id)
  if not n then return nil, {'err', 'notfound', id} end
  local key = order_prefix .. n
  local h = hash_to_table(redis.call('HGETALL', key))
  if expected ~= '' and expected ~= h.v then
    return nil, {'err', 'version', id, h.v, expected}
  end
  return {id = id, n = n, key = key, h = h}, nil
end

local function change(o, created)
  local found, err = find(ARGV[o + S.id], ARGV[o + S.ref_op], ARGV[o + S.version], created)
  if not found then return err end
  local id, n, key, h = found.id, found.n, found.key, found.h
  local target = ARGV[o + S.status]
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
  if ARGV[o + S.clear_done] == '1' then
    -- (the text '"done":true' is only ever a done mark: a quote inside a JSON string is \")
    h.items = string.gsub(h.items, '"done":true', '"done":false')
  end
  h.h = add_history(h, prev, actor, extra, at)
  if prev ~= target then
    redis.call('ZREM', ix .. IX_STATUS .. prev, n)
    redis.call('ZADD', ix .. IX_STATUS .. target, n, n)
    h.sa = at
    redis.call('HSET', key, 'sa', at)
  end
  add_tokens(h, ARGV[o + S.words])
  redis.call('HSET', key, 'st', h.st, 'v', h.v, 'ua', h.ua, 'prep', h.prep, 'hto', h.hto,
    'hby', h.hby, 'items', h.items, 'h', h.h, 'ixk', h.ixk or '')
  local order = emit(h, prev ~= target and 'order.status_changed' or 'order.updated', prev)
  return {'ok', id, tonumber(n), tonumber(h.v), 1, order}
end

-- A change of an open order that keeps its status (its priority, an item's done mark): a new
-- version, a history entry (previous_status is the status) and an event. ``fields`` are the
-- changed fields (names and values, for HSET), ``extra`` the history entry's own fields, which
-- the event carries too (which item was ticked: a webhook receiver keeps no copy of the order).
local function update(found, actor, event, fields, extra)
  local h = found.h
  h.v = tostring(tonumber(h.v) + 1)
  h.ua = at
  h.h = add_history(h, h.st, actor, extra, at)
  redis.call('HSET', found.key, 'v', h.v, 'ua', h.ua, 'h', h.h, unpack(fields))
  local order = emit(h, event, h.st, extra)
  return {'ok', found.id, tonumber(found.n), tonumber(h.v), 1, order}
end

-- The open order an op names (see find), or an error result: 'closed' when the order is in a
-- status that is not among the op's sources (a final one).
local function find_open(o, created)
  local found, err = find(ARGV[o + U.id], ARGV[o + U.ref_op], ARGV[o + U.version], created)
  if not found then return nil, err end
  for _, src in ipairs(split(ARGV[o + U.sources])) do
    if src == found.h.st then return found, nil end
  end
  return nil, {'err', 'closed', found.id, found.h.st}
end

local function unchanged(found)
  return {'ok', found.id, tonumber(found.n), tonumber(found.h.v), 0, order_json(found.h, ws)}
end

local function set_priority(o, created)
  local found, err = find_open(o, created)
  if not found then return err end
  local h = found.h
  local priority = ARGV[o + P.priority]
  if priority_of(h) == priority then return unchanged(found) end
  h.pri = priority
  return update(found, ARGV[o + U.actor], 'order.priority_changed', {'pri', priority},
    ',"priority":"' .. priority .. '"')
end

-- Where item ``index`` (from 0) of an items array's JSON is: its first and last byte, or nil.
-- Items are flat objects (name, quantity, notes, done), so outside strings a brace opens or
-- closes an item; strings are skipped with their escapes.
local function item_span(items, index)
  local pos, depth, count, start = 1, 0, -1, nil
  while true do
    local at_char = string.find(items, '[{}"]', pos)
    if not at_char then return nil end
    local c = string.sub(items, at_char, at_char)
    if c == '"' then
      local close = at_char
      repeat
        close = string.find(items, '["\\]', close + 1)
        if not close then return nil end
        local was_escape = string.sub(items, close, close) == '\\'
        if was_escape then close = close + 1 end
      until not was_escape
      pos = close + 1
    else
      if c == '{' then
        depth = depth + 1
        if depth == 1 then
          count = count + 1
          start = at_char
        end
      else
        depth = depth - 1
        if depth == 0 and count == index then return start, at_char end
      end
      pos = at_char + 1
    end
  end
end

local function mark_item(o, created)
  local found, err = find_open(o, created)
  if not found then return err end
  local h = found.h
  local index = tonumber(ARGV[o + I.index])
  local first, last = item_span(h.items, index)
  if not first then return {'err', 'item', found.id, index} end
  local item = string.sub(h.items, first, last)
  local done = ARGV[o + I.done] == '1' and 'true' or 'false'
  -- '"done":' is only ever the key (a quote inside a JSON string is \"); an order stored before
  -- items had it is not done: the key is added
  local key_at, key_end = string.find(item, '"done":', 1, true)
  local now_done = key_at ~= nil and string.sub(item, key_end + 1, key_end + 4) == 'true'
  if now_done == (done == 'true') then return unchanged(found) end
  if key_at then
    local value_end = key_end + (now_done and 4 or 5)
    item = string.sub(item, 1, key_end) .. done .. string.sub(item, value_end + 1)
  else
    item = string.sub(item, 1, -2) .. ',"done":' .. done .. '}'
  end
  h.items = string.sub(h.items, 1, first - 1) .. item .. string.sub(h.items, last + 1)
  return update(found, ARGV[o + U.actor], 'order.item_done', {'items', h.items},
    ',"item":' .. index .. ',"done":' .. done)
end

local results = {}
local created = {}
local nops = tonumber(ARGV[H.ops])
for i = 1, nops do
  local o = FIRST_OP + (i - 1) * OPW
  local r
  local kind = ARGV[o + C.kind]
  if kind == 'c' then
    r = create(o)
    if r[1] == 'ok' then created[i] = r[2] end
  elseif kind == 's' then
    r = change(o, created)
  elseif kind == 'p' then
    r = set_priority(o, created)
  else
    r = mark_item(o, created)
  end
  results[i] = r
end

local out = cjson.encode(results)
if idem_hash ~= '' then
  redis.call('SET', KEYS[6], idem_hash .. '|' .. out, 'EX', ARGV[H.idem_ttl])
end
return reply(out)
