-- Corrects one admission's TPM entries from the estimate to the real token count.
-- KEYS = the TPM windows of the admission (one slot); ARGV[1] = ticket, ARGV[2] = estimated, ARGV[3] = actual.
-- Idempotent: once corrected, the estimated member is gone.
local old = ARGV[1] .. ':' .. ARGV[2]
local new = ARGV[1] .. ':' .. ARGV[3]
for i = 1, #KEYS do
  local score = redis.call('ZSCORE', KEYS[i], old)
  if score then
    redis.call('ZREM', KEYS[i], old)
    redis.call('ZADD', KEYS[i], score, new)
    -- The window's token sum (see admit.lua) follows the correction.
    redis.call('INCRBY', KEYS[i] .. ':sum', tonumber(ARGV[3]) - tonumber(ARGV[2]))
  end
end
return 1
