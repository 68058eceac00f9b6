-- This server is alive: KEYS[1] (the fleet's servers, a sorted set scored
-- by expiry) gets ARGV[1] (its id) for ARGV[2] ms from now on Redis's
-- clock; servers not heard from in that time are removed.
-- Returns the number of live servers: the fleet size.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return redis.call('ZCARD', KEYS[1])
