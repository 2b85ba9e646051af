-- Settles a billed request: releases its reservation and charges its cost, once per request id.
-- KEYS = balance hash, reservations hash, expiry zset, ledger list, settled-ids hash (one slot).
-- ARGV = request id, key id, month (yyyymm), entry JSON ('' = release only), cost (units), now.
-- The charge is cut to the balance (flag `capped`) so a balance never goes below zero.
-- Returns {1, entry JSON or ''} when settled now, {0, ''} when it was settled before.
local bal, resv, exp, ledger, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('HSETNX', done, ARGV[1], '1') == 0 then return {0, ''} end
b_release(bal, resv, exp, ARGV[1])
b_sweep(bal, resv, exp, tonumber(ARGV[6]))
if ARGV[4] == '' then return {1, ''} end
local balance = m_parse(redis.call('HGET', bal, 'balance'))
local cost = m_parse(ARGV[5])
local capped = false
if m_cmp(cost, balance) > 0 then
  capped = true
  if m_cmp(balance, {0, 0}) > 0 then cost = balance else cost = {0, 0} end
end
balance = m_sub(balance, cost)
redis.call('HSET', bal, 'balance', m_str(balance))
local ks = 'ks:' .. ARGV[2] .. ':' .. ARGV[3]
redis.call('HSET', bal, ks, m_str(m_add(m_parse(redis.call('HGET', bal, ks)), cost)))
local e = cjson.decode(ARGV[4])
e.amount = m_str(m_sub({0, 0}, cost))
e.balance_after = m_str(balance)
e.capped = capped
local out = cjson.encode(e)
redis.call('RPUSH', ledger, out)
return {1, out}
