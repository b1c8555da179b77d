-- Counts a failed login of one (user, device) and locks it out with a back-off once the free attempts are used.
-- KEYS[1]: the pair's hash (failures, lockedUntil). ARGV[1]: now in ms ("" = the Redis clock); ARGV[2]: free
-- failures; ARGV[3]: first lock-out in ms; ARGV[4]: longest lock-out in ms; ARGV[5]: how long failures are
-- remembered after the last one, in ms. Returns { failures, lock-out in ms (0: none) }.
local now = tonumber(ARGV[1])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2])
local lock = 0
if failures > free then
  -- Doubles with every failure past the free ones: first, 2 x first, 4 x first, ... up to the longest.
  local doublings = math.min(failures - free - 1, 40)
  lock = math.min(tonumber(ARGV[3]) * (2 ^ doublings), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'lockedUntil', string.format('%d', now + lock))
end
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(tonumber(ARGV[5]), lock)))
return { failures, string.format('%d', lock) }
