-- An admin asks for an event to be sent to a webhook again (POST .../deliveries/{id}/retry).
-- A dead letter, or an event still in the stream, is queued for the webhook's process to send
-- once more; the event the webhook is waiting to retry is made due now instead.
--
-- KEYS: 1 record, 2 dead letters, 3 redrive list, 4 events stream
-- ARGV: 1 stream id, 2 most redrive requests kept
-- Returns 'dead', 'due' or 'again', or '' when the event is known nowhere.
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local function queue()
  redis.call('LREM', KEYS[3], 0, ARGV[1])
  redis.call('RPUSH', KEYS[3], ARGV[1])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[2]), -1)
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  queue()
  return 'dead'
end
if redis.call('HGET', KEYS[1], 'head') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'next_at', '0')
  return 'due'
end
if #redis.call('XRANGE', KEYS[4], ARGV[1], ARGV[1]) > 0 then
  queue()
  return 'again'
end
return ''
