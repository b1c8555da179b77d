-- Deletes a value and its entry in the set that lists it. KEYS[1]: value; KEYS[2]: set; ARGV[1]: member.
-- Returns 1 when the value existed.
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return existed
