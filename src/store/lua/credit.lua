-- A credit or adjustment, once per idempotency key.
-- KEYS = balance hash, ledger list, idempotency hash, reservations hash, expiry zset (one slot).
-- ARGV = idempotency key, body digest, entry JSON, signed amount (units), now.
-- Returns {1, entry} written, {2, first entry} replayed, {3, ''} key reused with another body,
-- {4, ''} a negative amount beyond the available balance.
local bal, ledger, idem = KEYS[1], KEYS[2], KEYS[3]
local prev = redis.call('HGET', idem, ARGV[1])
if prev then
  local digest, first = string.match(prev, '^(%S+) (.*)$')
  if digest == ARGV[2] then return {2, first} end
  return {3, ''}
end
b_sweep(bal, KEYS[4], KEYS[5], tonumber(ARGV[5]))
local amount = m_parse(ARGV[4])
local after = m_add(m_parse(redis.call('HGET', bal, 'balance')), amount)
if m_cmp(amount, {0, 0}) < 0 then
  local available = m_sub(after, m_parse(redis.call('HGET', bal, 'reserved')))
  if m_cmp(available, {0, 0}) < 0 then return {4, ''} end
end
redis.call('HSET', bal, 'balance', m_str(after))
local e = cjson.decode(ARGV[3])
e.amount = m_str(amount)
e.balance_after = m_str(after)
local out = cjson.encode(e)
redis.call('RPUSH', ledger, out)
redis.call('HSET', idem, ARGV[1], ARGV[2] .. ' ' .. out)
return {1, out}
