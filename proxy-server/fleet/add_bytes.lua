-- Adds one server's batch of bytes (ARGV[1]) to a tenant's counter of one
-- UTC day (KEYS[1]), which lives two days. Returns the fleet's total.
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 172800)
return total
