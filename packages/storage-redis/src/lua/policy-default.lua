-- Sets (ARGV[1] "" clears) the default policy. KEYS[1]: policies hash; KEYS[2]: default policy key.
-- Returns "ok" or "not-found".
if ARGV[1] == '' then
  redis.call('DEL', KEYS[2])
  return 'ok'
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'not-found' end
redis.call('SET', KEYS[2], ARGV[1])
return 'ok'
