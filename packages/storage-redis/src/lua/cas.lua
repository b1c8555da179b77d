-- Compare-and-set of one JSON value held in a string key, with an optional set index beside it.
-- KEYS[1]: the value's key; KEYS[2] (optional): a set that lists the value while it exists.
-- ARGV[1]: the value expected now, "" for "absent"; ARGV[2]: the new value;
-- ARGV[3]: set member for KEYS[2]; ARGV[4]: expiry in ms ("0": none); ARGV[5]: "1" to restart the expiry,
-- "0" to keep the key's current one. Returns 1 when written, 0 when the value was not the expected one.
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
if ARGV[4] ~= '0' and (ARGV[5] == '1' or current == '') then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
end
if KEYS[2] then
  redis.call('SADD', KEYS[2], ARGV[3])
  if ARGV[4] ~= '0' and ARGV[5] == '1' then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
end
return 1
