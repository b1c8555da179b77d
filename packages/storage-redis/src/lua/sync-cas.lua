-- Compare-and-set of one collection's sync state.
-- KEYS[1]: the device's hash (field "k:<collection>" = newest sync key, "s:<collection>" = state JSON)
-- ARGV[1]: collection field suffix; ARGV[2]: expected newest key, "" for "nothing stored";
-- ARGV[3]: the new newest key; ARGV[4]: the new state JSON; ARGV[5]: expiry in ms, "0" for none.
local current = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if current == false then
  if ARGV[2] ~= '' then return 0 end
elseif current ~= ARGV[2] or ARGV[2] == '' then
  return 0
end
redis.call('HSET', KEYS[1], 'k:' .. ARGV[1], ARGV[3], 's:' .. ARGV[1], ARGV[4])
if ARGV[5] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
