-- Exact money in Lua (whose numbers are doubles): an amount of 10^-12 USD units travels as a
-- decimal integer string and is computed as two limbs {hi, lo}, value = hi * 10^12 + lo with
-- 0 <= lo < 10^12. Every intermediate stays far below 2^53, so sums are exact up to
-- 9 * 10^15 USD. Prepended to every script that touches balances.
local MB = 1000000000000
local function m_norm(hi, lo)
  local c = math.floor(lo / MB)
  return {hi + c, lo - c * MB}
end
local function m_parse(s)
  if not s or s == '' then return {0, 0} end
  local neg = false
  if string.sub(s, 1, 1) == '-' then neg = true; s = string.sub(s, 2) end
  local n = #s
  local hi, lo = 0, 0
  if n > 12 then
    hi = tonumber(string.sub(s, 1, n - 12))
    lo = tonumber(string.sub(s, n - 11))
  else
    lo = tonumber(s)
  end
  if neg then return m_norm(-hi, -lo) end
  return {hi, lo}
end
local function m_add(a, b) return m_norm(a[1] + b[1], a[2] + b[2]) end
local function m_sub(a, b) return m_norm(a[1] - b[1], a[2] - b[2]) end
local function m_cmp(a, b)
  if a[1] ~= b[1] then if a[1] < b[1] then return -1 else return 1 end end
  if a[2] ~= b[2] then if a[2] < b[2] then return -1 else return 1 end end
  return 0
end
local function m_str(a)
  if a[1] < 0 then return '-' .. m_str(m_sub({0, 0}, a)) end
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%012d', a[1], a[2])
end
-- Reservations: hash id -> "amount key", zset id by expiry; the balance hash holds `balance`,
-- `reserved`, `kr:<key>` (held per key) and `ks:<key>:<yyyymm>` (spent per key and month).
local function b_release(bal, resv, exp, id)
  local r = redis.call('HGET', resv, id)
  if not r then return end
  local amount, key = string.match(r, '^(%S+) (%S+)$')
  local a = m_parse(amount)
  redis.call('HSET', bal, 'reserved', m_str(m_sub(m_parse(redis.call('HGET', bal, 'reserved')), a)))
  local kf = 'kr:' .. key
  redis.call('HSET', bal, kf, m_str(m_sub(m_parse(redis.call('HGET', bal, kf)), a)))
  redis.call('HDEL', resv, id)
  redis.call('ZREM', exp, id)
end
local function b_sweep(bal, resv, exp, now)
  local gone = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(gone) do b_release(bal, resv, exp, id) end
end
