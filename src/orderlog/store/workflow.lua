-- Replace a workspace's workflow, moving the orders out of the statuses it removes, atomically.
--
-- KEYS: 1 workflow, 2 workflow version, 3 epoch, 4 events stream, 5 live channel,
--       6 the stream's first event id
-- ARGV: 1 the version the change was checked against, 2 the new workflow's JSON ('' = back to
--       the default), 3 the workflow as live clients get it (JSON), 4 workspace id,
--       5 order key prefix, 6 index key prefix, 7 stream MAXLEN, 8 PUBLISH or SPUBLISH,
--       9.. pairs (removed status, status its orders move to; '' = they must have none)
-- Returns {'stale', version} (someone changed it meanwhile: nothing done),
--         {'held', status, count, ...} (orders are in removed statuses no pair moves: nothing
--         done), or {'changed', version, moved}.
-- Each moved order gets a history entry (reason "workflow changed") and an
-- order.status_changed event; then one workflow.changed event tells live clients.

local version = redis.call('GET', KEYS[2]) or '0'
if version ~= ARGV[1] then return {'stale', version} end
local ws = ARGV[4]
local order_prefix = ARGV[5]
local ix = ARGV[6]

local held = {}
for i = 9, #ARGV - 1, 2 do
  local count = redis.call('ZCARD', ix .. IX_STATUS .. ARGV[i])
  if count > 0 and ARGV[i + 1] == '' then
    held[#held + 1] = ARGV[i]
    held[#held + 1] = count
  end
end
if #held > 0 then return {'held', unpack(held)} end

local epoch = ensure_epoch(KEYS[3])
local at = iso(now_ms())
local function emit(st, rest)
  append_event(KEYS[4], KEYS[6], KEYS[5], ARGV[8], epoch, ARGV[7], st, rest)
end

local moved = 0
for i = 9, #ARGV - 1, 2 do
  local from, to = ARGV[i], ARGV[i + 1]
  if to ~= '' then
    for _, n in ipairs(redis.call('ZRANGE', ix .. IX_STATUS .. from, 0, -1)) do
      local key = order_prefix .. n
      local h = hash_to_table(redis.call('HGETALL', key))
      h.st = to
      h.v = tostring(tonumber(h.v) + 1)
      h.ua = at
      h.h = add_history(h, from, '', ',"reason":"workflow changed"', at)
      redis.call('HSET', key, 'st', h.st, 'v', h.v, 'ua', h.ua, 'h', h.h)
      redis.call('ZREM', ix .. IX_STATUS .. from, n)
      redis.call('ZADD', ix .. IX_STATUS .. to, n, n)
      emit(h.st, '"event":"order.status_changed","previous_status":"' .. from .. '","order":'
        .. order_json(h, ws) .. '}')
      moved = moved + 1
    end
  end
end

if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
version = redis.call('INCR', KEYS[2])
emit('', '"event":"workflow.changed","workflow":' .. ARGV[3] .. '}')
return {'changed', version, moved}
