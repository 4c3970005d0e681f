-- A consistent starting point for a live client: the epoch, the stream's first and last entry
-- ids, and the JSON of every order now in the given statuses, read atomically (no write can
-- fall between them, so "the snapshot, then every event after last id" misses nothing).
--
-- KEYS: 1 events stream, 2 epoch, 3 the stream's first event id
-- ARGV: 1 workspace id, 2 order key prefix, 3 index key prefix, 4.. statuses (none: bounds only)
-- Returns {epoch, first id or '', last id ('0-0' when empty), intact ('1', '0' or ''),
--          number1, json1, number2, json2, ...}

local ws = ARGV[1]
local order_prefix = ARGV[2]
local ix = ARGV[3]

local epoch = ensure_epoch(KEYS[2])
local bounds = stream_bounds(KEYS[1], KEYS[3])
local out = {epoch, bounds[1], bounds[2], bounds[3]}

for i = 4, #ARGV do
  for _, n in ipairs(redis.call('ZRANGE', ix .. IX_STATUS .. ARGV[i], 0, -1)) do
    local flat = redis.call('HGETALL', order_prefix .. n)
    if #flat > 0 then
      out[#out + 1] = n
      out[#out + 1] = order_json(hash_to_table(flat), ws)
    end
  end
end
return out
