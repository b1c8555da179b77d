-- Claims the Direct Push slot of one device for a wait that just started, and tells every instance.
-- KEYS[1]: the device's claim key (holds the newest claim number)
-- ARGV[1]: the user's push channel; ARGV[2]: the device id as JSON; ARGV[3]: claim key expiry in seconds;
-- ARGV[4]: 'sharded' (SPUBLISH) or 'classic' (PUBLISH).
-- Claim numbers come from the server clock in microseconds, so they keep growing across a restart of a Redis
-- that lost its data, and never fall below the last one stored.
local now = redis.call('TIME')
local claim = tonumber(now[1]) * 1000000 + tonumber(now[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if claim <= last then claim = last + 1 end
local text = string.format('%d', claim)
redis.call('SET', KEYS[1], text, 'EX', ARGV[3])
local command = 'PUBLISH'
if ARGV[4] == 'sharded' then command = 'SPUBLISH' end
redis.call(command, ARGV[1], '{"claim":' .. ARGV[2] .. ',"n":' .. text .. '}')
return text
