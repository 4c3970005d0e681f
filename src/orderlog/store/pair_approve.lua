-- Approve a screen pairing: pending -> approved for a workspace and a screen id, once.
-- KEYS: 1 the pairing (keys.pairing)
-- ARGV: 1 workspace id, 2 screen id, 3 the least time (ms) the approved pairing is kept for its
--       screen to come and take its token
-- Returns 1 approved, 0 no such pairing (never made, expired or taken), -1 approved already.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local pairing = cjson.decode(raw)
if pairing.state ~= 'pending' then return -1 end
pairing.state = 'approved'
pairing.workspace = ARGV[1]
pairing.screen = ARGV[2]
local keep = math.max(redis.call('PTTL', KEYS[1]), tonumber(ARGV[3]))
redis.call('SET', KEYS[1], cjson.encode(pairing), 'PX', keep)
return 1
