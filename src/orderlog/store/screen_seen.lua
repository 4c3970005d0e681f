-- A screen's last-seen time, written only while the screen is listed (a revoked screen's
-- in-flight request must not list it again).
-- KEYS: 1 the workspace's screens (keys.screens)
-- ARGV: 1 screen id, 2 ISO 8601 time
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
