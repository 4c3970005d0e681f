-- Events after a stream id (exclusive) with the stream's bounds, read atomically: if the bounds
-- say the cursor is still resumable, no entry after it had been trimmed when the page was read.
--
-- KEYS: 1 events stream, 2 epoch, 3 the stream's first event id
-- ARGV: 1 after this id (exclusive), 2 count
-- Returns {epoch or '', first id or '', last id, intact ('1', '0' or ''), {id, {field, value...}}...}

local epoch = redis.call('GET', KEYS[2]) or ''
local bounds = stream_bounds(KEYS[1], KEYS[3])
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {epoch, bounds[1], bounds[2], bounds[3], entries}
