-- Create a webhook: its record, its place in the workspace's index and its consumer group on the
-- workspace's event stream, which starts after the stream's last entry ('$'): a new webhook
-- receives the events written after it was created. One script, so the group's start and the
-- record appear together. A workspace with no stream yet gets the group with its first event
-- (webhook_group.lua, from the start: every entry is newer than the webhook); the stream is not
-- made here, as the first event's script must make it (it remembers the stream's first id).
--
-- KEYS: 1 record, 2 the workspace's webhook index, 3 events stream, 4 epoch
-- ARGV: 1 consumer group, 2 webhook id, 3 most webhooks per workspace, 4.. field, value, ...
-- Returns 1, or 0 when the workspace already has the most webhooks allowed.
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
ensure_epoch(KEYS[4])
if redis.call('EXISTS', KEYS[3]) == 1 then
  local made = redis.pcall('XGROUP', 'CREATE', KEYS[3], ARGV[1], '$')
  if type(made) == 'table' and made.err and not string.find(made.err, 'BUSYGROUP', 1, true) then
    return redis.error_reply(made.err)
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
