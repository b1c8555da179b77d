-- Removes one collection's sync state. KEYS[1]: the device's hash; ARGV[1]: collection field suffix.
return redis.call('HDEL', KEYS[1], 'k:' .. ARGV[1], 's:' .. ARGV[1]) > 0 and 1 or 0
