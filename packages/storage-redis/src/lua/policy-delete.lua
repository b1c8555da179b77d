-- Deletes a policy unless it is the default or assigned to a user.
-- KEYS[1]: policies hash; KEYS[2]: users-per-policy counts; KEYS[3]: default policy key. ARGV[1]: policy id.
-- Returns "ok", "not-found" or "in-use".
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'not-found' end
if redis.call('GET', KEYS[3]) == ARGV[1] then return 'in-use' end
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') > 0 then return 'in-use' end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 'ok'
