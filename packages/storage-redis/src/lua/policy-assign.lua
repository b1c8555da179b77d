-- Assigns a policy to a user (ARGV[2] "" removes the assignment), keeping a count of users per policy so that
-- deleting a policy in use can be refused without scanning every assignment.
-- KEYS[1]: policies hash; KEYS[2]: assignments hash (user -> policy id); KEYS[3]: users-per-policy counts.
-- ARGV[1]: user; ARGV[2]: policy id or "". Returns "ok" or "not-found".
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 'not-found' end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('HINCRBY', KEYS[3], old, -1) end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
end
return 'ok'
