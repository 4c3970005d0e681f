-- One rate-limit check (GCRA in common.lua) for an authenticated request that is not a write
-- (writes check inside write.lua, in the same round trip).
-- KEYS: 1 the API key's rate-limit state (keys.rate_limit)
-- ARGV: 1 emission interval (us), 2 burst
-- Returns {remaining, reset_us, retry_us}; retry_us > 0 means refused.
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
