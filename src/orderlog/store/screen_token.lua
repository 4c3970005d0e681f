-- Give a paired screen's record its token hash, once, and only while the record exists (a
-- screen revoked between approval and pick-up must not come back as a half record).
-- KEYS: 1 the screen's record (keys.api_key)
-- ARGV: 1 sha256 of the new screen token
-- Returns 1 set, 0 no record or a token given already.
if redis.call('HEXISTS', KEYS[1], 'workspace') == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'sha256', ARGV[1])
