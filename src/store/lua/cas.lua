-- Compare-and-set of one JSON record: writes ARGV[3] only if the record is still ARGV[2].
-- KEYS[1] = a string key (ARGV[1] == '') or a hash (ARGV[1] = its field).
-- Returns 1 if written, 0 if the record changed (or vanished) meanwhile.
local cur
if ARGV[1] == '' then cur = redis.call('GET', KEYS[1]) else cur = redis.call('HGET', KEYS[1], ARGV[1]) end
if cur ~= ARGV[2] then return 0 end
if ARGV[1] == '' then redis.call('SET', KEYS[1], ARGV[3]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
