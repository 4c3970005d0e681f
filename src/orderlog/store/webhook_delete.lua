-- Delete a webhook: its consumer group (the events it had not received yet go with it), its
-- record, lease, delivery log, dead letters and redrive requests. Removing the lease also fences
-- off a process still delivering it: its next settle finds the lease gone and writes nothing.
--
-- KEYS: 1 record, 2 index, 3 events stream, 4 lease, 5 log, 6 dead letters, 7 redrive list
-- ARGV: 1 consumer group, 2 webhook id
-- Returns 1, or 0 if there was no such webhook.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.pcall('XGROUP', 'DESTROY', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
