-- Remove one batch of the orders created before a cutoff, with every index entry, atomically.
-- The age check (ZRANGEBYSCORE on ix:created) runs inside the script, so two processes
-- sweeping at once never remove a young order and a second pass finds nothing: idempotent.
--
-- KEYS: 1 ids hash, 2 ix:all, 3 ix:created
-- ARGV: 1 order key prefix, 2 index key prefix, 3 cutoff (ms, exclusive), 4 batch size
-- Returns the number of orders removed.
local prefix = ARGV[1]
local ix = ARGV[2]

-- A text index emptied by the sweep takes its value out of its kind's vocabulary (write.lua).
local function forget_value(suffix)
  if redis.call('EXISTS', ix .. suffix) == 1 then return end
  for _, kind in ipairs(VOCABULARIES) do
    if string.sub(suffix, 1, #kind) == kind then
      redis.call('ZREM', ix .. IX_VOCAB .. kind, string.sub(suffix, #kind + 1))
      return
    end
  end
end

local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3], 'LIMIT', 0,
  tonumber(ARGV[4]))
for _, n in ipairs(old) do
  local f = redis.call('HMGET', prefix .. n, 'id', 'st', 'ixk')
  if f[1] and redis.call('HGET', KEYS[1], f[1]) == n then redis.call('HDEL', KEYS[1], f[1]) end
  if f[2] then redis.call('ZREM', ix .. IX_STATUS .. f[2], n) end
  -- ixk lists the other indexes write.lua added the order to (an emptied zset disappears).
  for _, suffix in ipairs(split(f[3] or '')) do
    redis.call('ZREM', ix .. suffix, n)
    forget_value(suffix)
  end
  redis.call('DEL', prefix .. n)
  redis.call('ZREM', KEYS[2], n)
  redis.call('ZREM', KEYS[3], n)
end
return #old
