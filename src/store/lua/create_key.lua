-- Adds a key record to its account. KEYS[1] = the account, KEYS[2] = its keys hash (one slot).
-- ARGV[1] = key id, ARGV[2] = record JSON. Returns 1 created, 0 no such account, -1 id taken.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return -1 end
return 1
