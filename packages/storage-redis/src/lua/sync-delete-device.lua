-- Removes every sync state of a device and says how many there were. KEYS[1]: the device's hash.
local count = redis.call('HLEN', KEYS[1]) / 2
redis.call('DEL', KEYS[1])
return count
