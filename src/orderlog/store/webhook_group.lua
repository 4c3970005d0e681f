-- Give a webhook its consumer group when it has none: its workspace had no stream when it was
-- created (webhook_create.lua), or the stream was lost. The group starts at the stream's start:
-- every entry there is newer than the webhook. Nothing happens for a deleted webhook or while
-- the stream does not exist.
--
-- KEYS: 1 record, 2 events stream. ARGV: 1 consumer group.
-- Returns 1 if the group exists now, else 0.
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local made = redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[1], '0')
if type(made) == 'table' and made.err and not string.find(made.err, 'BUSYGROUP', 1, true) then
  return redis.error_reply(made.err)
end
return 1
