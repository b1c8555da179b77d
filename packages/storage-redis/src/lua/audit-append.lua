-- Appends an audit entry under the next id. KEYS[1]: id counter; KEYS[2]: entries hash (id -> JSON);
-- KEYS[3]: the index of all entries (sorted set, score = id); KEYS[4] (optional): the index of the target user.
-- ARGV[1]: the entry's JSON without its opening brace, to which the id is prepended. Returns the id.
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, '{"id":' .. id .. ',' .. ARGV[1])
redis.call('ZADD', KEYS[3], id, id)
if KEYS[4] then redis.call('ZADD', KEYS[4], id, id) end
return id
