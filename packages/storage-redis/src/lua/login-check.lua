-- How long one (user, device) is still locked out. KEYS[1]: the pair's hash. ARGV[1]: now in ms ("" = the
-- Redis clock). Returns { failures, remaining lock-out in ms (0: none) }.
local now = tonumber(ARGV[1])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local values = redis.call('HMGET', KEYS[1], 'failures', 'lockedUntil')
local failures = tonumber(values[1] or '0')
local remaining = math.max(0, tonumber(values[2] or '0') - now)
return { failures, string.format('%d', remaining) }
