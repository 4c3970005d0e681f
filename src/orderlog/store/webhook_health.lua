-- Where a webhook's consumer group stands, read at once: {pending entries (read, not yet
-- acknowledged), the oldest pending id ('' none), the group's last delivered id, the id of the
-- first entry after it ('' none), entries not read yet ('' when Redis cannot say: 6.2)}.
-- The oldest undelivered event is the oldest pending one, else the first not read.
--
-- KEYS: 1 events stream. ARGV: 1 consumer group.
-- Returns {} when the stream or the group does not exist.
local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(pending) ~= 'table' or pending.err then return {} end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local last, lag = '0-0', ''
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g - 1, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then
    last = info['last-delivered-id']
    if type(info['lag']) == 'number' then lag = tostring(info['lag']) end
  end
end
local after = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
return {pending[1], pending[2] or '', last, after[1] and after[1][1] or '', lag}
