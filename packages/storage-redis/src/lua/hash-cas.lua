-- Compare-and-set of one hash field. KEYS[1]: the hash; ARGV[1]: field; ARGV[2]: expected value, "" for
-- "absent"; ARGV[3]: new value. Returns 1 when written, 0 when the field did not hold the expected value.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false then current = '' end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
