-- Record what happened to a webhook's deliveries, in one step: acknowledge the delivered (or
-- filtered-out) events in its consumer group, append the attempts to its delivery log (capped),
-- update its delivery state, and move an event to the dead letters.
--
-- Acknowledging needs no lease: a delivered event is delivered, whoever holds the webhook now.
-- Everything else is fenced by the lease: a process that lost it (stalled past its lease, or the
-- webhook was deleted) writes nothing and learns so from the reply.
--
-- KEYS: 1 lease, 2 events stream, 3 record, 4 log, 5 dead letters
-- ARGV: 1 this process's consumer name, 2 consumer group, 3 log length kept,
--       4 number of ids to acknowledge (A), 5 number of log entries (L), 6 number of state
--       fields (F), 7 dead letter id ('' none), 8 dead letter JSON,
--       then A ids, L log entries (oldest first), F field/value pairs ('' value: remove)
-- Returns 1 if the lease was held (everything written), 0 if only the acknowledgements were.
local acks, logs, fields = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local at = 9
if acks > 0 then
  redis.pcall('XACK', KEYS[2], ARGV[2], unpack(ARGV, at, at + acks - 1))
end
at = at + acks
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
if logs > 0 then
  redis.call('LPUSH', KEYS[4], unpack(ARGV, at, at + logs - 1))
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[3]) - 1)
end
at = at + logs
for i = at, at + 2 * fields - 1, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[3], ARGV[i])
  else
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[7], ARGV[8])
  redis.pcall('XACK', KEYS[2], ARGV[2], ARGV[7])
end
return 1
