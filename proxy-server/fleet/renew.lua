-- Renews the leases of the live sessions of one loop thread, in one call:
-- each KEYS[i] (a lease set) gets its member ARGV[i + 1] (a session id)
-- scored lease time (ARGV[1], ms) from now on Redis's clock. A lease that
-- lapsed, or that a restarted Redis lost, is added again.
-- Returns the number of leases renewed.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease)
end
return #KEYS
