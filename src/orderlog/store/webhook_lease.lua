-- Renew (ARGV[2] > 0: milliseconds) or release (ARGV[2] = 0) a webhook's lease, only if this
-- process (ARGV[1]) still holds it. KEYS: 1 lease. Returns 1 if it did, else 0.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
