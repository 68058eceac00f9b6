-- Gives back the leases of one ended session: ARGV[1] (its id) leaves each
-- of KEYS (its lease sets). Returns how many it held.
local removed = 0
for _, key in ipairs(KEYS) do
  removed = removed + redis.call('ZREM', key, ARGV[1])
end
return removed
