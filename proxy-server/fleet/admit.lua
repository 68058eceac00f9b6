-- The fleet's admission of one session, atomically and on Redis's clock
-- (docs/fleet.md): the tenant's rate (GCRA), its max_connections lease and
-- its max_per_destination lease, and its bytes of today (counted in batches
-- by add_bytes.lua). A limit of 0 is not checked.
--
-- KEYS[1] rate: the tenant's theoretical arrival time (ms)
-- KEYS[2] connections: sorted set of session ids scored by lease expiry (ms)
-- KEYS[3] destination: the same, for the tenant and one destination IP
-- KEYS[4] bytes: the tenant's bytes of today (UTC)
-- ARGV: session id, lease time (ms), connections_per_minute,
--       max_connections, max_per_destination, bytes_per_day
-- Returns {verdict, retry_after_ms}: 0 admitted, 1 rate (retry after),
-- 2 max_connections, 3 max_per_destination, 4 bytes_per_day.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local id = ARGV[1]
local lease = tonumber(ARGV[2])
local per_minute = tonumber(ARGV[3])
local max_connections = tonumber(ARGV[4])
local max_per_destination = tonumber(ARGV[5])
local bytes_per_day = tonumber(ARGV[6] or '0')

if bytes_per_day > 0 and (tonumber(redis.call('GET', KEYS[4])) or 0) >= bytes_per_day then
  return {4, 0}
end
if max_connections > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZSCORE', KEYS[2], id) == false and
     redis.call('ZCARD', KEYS[2]) >= max_connections then
    return {2, 0}
  end
end
if max_per_destination > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZSCORE', KEYS[3], id) == false and
     redis.call('ZCARD', KEYS[3]) >= max_per_destination then
    return {3, 0}
  end
end
if per_minute > 0 then
  -- One arrival every `interval`; `tolerance` lets a whole minute's budget
  -- arrive at once: per_minute arrivals in a burst, then one per interval.
  local interval = 60000 / per_minute
  local tolerance = 60000 - interval
  local tat = tonumber(redis.call('GET', KEYS[1])) or now
  if tat < now then tat = now end
  if tat - now > tolerance then
    return {1, math.ceil(tat - now - tolerance)}
  end
  local next_tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.3f', next_tat),
             'PX', math.ceil(next_tat - now) + 1000)
end
if max_connections > 0 then
  redis.call('ZADD', KEYS[2], now + lease, id)
  redis.call('PEXPIRE', KEYS[2], lease)
end
if max_per_destination > 0 then
  redis.call('ZADD', KEYS[3], now + lease, id)
  redis.call('PEXPIRE', KEYS[3], lease)
end
return {0, 0}
