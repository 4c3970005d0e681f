-- Read orders by id or by number, each as [order_json, history_json] (false when missing).
-- KEYS: 1 ids hash
-- ARGV: 1 workspace id, 2 order key prefix, 3 'id' | 'n', 4 with history (1 | 0), 5.. values
local ws = ARGV[1]
local out = {}
for i = 5, #ARGV do
  local n = ARGV[i]
  if ARGV[3] == 'id' then n = redis.call('HGET', KEYS[1], ARGV[i]) end
  local flat = n and redis.call('HGETALL', ARGV[2] .. n) or {}
  if #flat == 0 then
    out[#out + 1] = false
  else
    local h = hash_to_table(flat)
    local hist = ARGV[4] == '1' and ('[' .. h.h .. ']') or ''
    out[#out + 1] = {order_json(h, ws), hist}
  end
end
return out
