-- A token bucket per device: takes one request if a token is left. KEYS[1]: the bucket (tokens, at).
-- ARGV[1]: now in ms ("" = the Redis clock); ARGV[2]: capacity (requests per window); ARGV[3]: window in ms.
-- Tokens come back evenly over the window. Returns { 1 if allowed else 0, tokens left (floored), ms until the
-- next token when refused }.
local now = tonumber(ARGV[1])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local capacity = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local per_ms = capacity / window
local values = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(values[1] or ARGV[2])
local at = tonumber(values[2] or now)
if now > at then tokens = math.min(capacity, tokens + (now - at) * per_ms) end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%d', math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], window)
return { allowed, math.floor(tokens), wait }
