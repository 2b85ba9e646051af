-- Checks every limit of one admission and, only if all take it (and the balance covers the
-- reservation, when there is one), counts it in each and holds the reservation.
-- KEYS[1] = the account's ticket sequence; KEYS[1+i] = counter of check i; then, when billed,
-- the balance hash, the reservations hash and their expiry zset (all one slot).
-- ARGV[1] = now (ms), ARGV[2] = estimated tokens, ARGV[3] = number of checks n;
-- ARGV[2+2i] = kind of check i, ARGV[3+2i] = its limit; after them, when billed:
-- request id, amount (units), key id, monthly cap ('' none), month (yyyymm), expiry (ms).
-- Returns {admitted, refusing check (0-based), wait ms, ticket, used_1, reset_1, ...} where
-- admitted is 1 (yes), 0 (a limit refused), 2 (balance too low), 3 (spend cap passed), used the
-- count before this request and reset the ms until the count next goes down.
local now = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local W = 60000
local DAY = 86400000
local used = {}
local by, worst = 0, -1

local function to_midnight() return DAY - (now % DAY) end

for i = 1, n do
  local k, kind, lim = KEYS[1 + i], ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local u, wait = 0, nil
  if kind == 'rpd' then
    u = tonumber(redis.call('GET', k) or '0')
    if u + 1 > lim then wait = to_midnight() end
  else
    -- The window holds its entries (a zset scored by time) and, for TPM, their token sum in
    -- k .. ':sum' (same hash tag), kept as entries come and go: admission costs O(log n)
    -- however full the window is. Only a refusal walks the entries, to say when to retry.
    local cost = 1
    if kind == 'tpm' then
      cost = tokens
      local gone = redis.call('ZRANGEBYSCORE', k, '-inf', now - W)
      local sum = tonumber(redis.call('GET', k .. ':sum') or '0')
      for j = 1, #gone do sum = sum - (tonumber(string.match(gone[j], ':(%d+)$')) or 0) end
      redis.call('ZREMRANGEBYSCORE', k, '-inf', now - W)
      if redis.call('ZCARD', k) == 0 then
        -- An empty (or expired) window holds nothing, whatever a stale sum says.
        sum = 0
        redis.call('DEL', k .. ':sum')
      elseif #gone > 0 then
        redis.call('SET', k .. ':sum', sum, 'PX', W)
      end
      u = sum
    else
      redis.call('ZREMRANGEBYSCORE', k, '-inf', now - W)
      u = redis.call('ZCARD', k)
    end
    if u > 0 and u + cost > lim then
      local entries = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
      local left = u
      for j = 1, #entries, 2 do
        local a = 1
        if kind == 'tpm' then a = tonumber(string.match(entries[j], ':(%d+)$')) or 0 end
        left = left - a
        if left + cost <= lim or left == 0 then
          wait = tonumber(entries[j + 1]) + W - now
          break
        end
      end
    end
  end
  used[i] = u
  if wait and wait > worst then
    worst = wait
    by = i - 1
  end
end

local admitted, ticket = 0, 0
local b = 3 + 2 * n
local billed = #ARGV > b
local bal, resv, exp = KEYS[n + 2], KEYS[n + 3], KEYS[n + 4]
if worst < 0 then
  admitted = 1
  worst = 0
  if billed then
    b_sweep(bal, resv, exp, now)
    local amount = m_parse(ARGV[b + 2])
    local key, cap, month = ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
    if cap ~= '' then
      local spent = m_parse(redis.call('HGET', bal, 'ks:' .. key .. ':' .. month))
      local held = m_parse(redis.call('HGET', bal, 'kr:' .. key))
      if m_cmp(m_add(m_add(spent, held), amount), m_parse(cap)) > 0 then admitted = 3 end
    end
    if admitted == 1 then
      local reserved = m_parse(redis.call('HGET', bal, 'reserved'))
      if m_cmp(m_add(reserved, amount), m_parse(redis.call('HGET', bal, 'balance'))) > 0 then admitted = 2 end
    end
    -- A reservation already held under this id (an admission delivered twice) is not held again.
    if admitted == 1 and redis.call('HEXISTS', resv, ARGV[b + 1]) == 0 then
      local id = ARGV[b + 1]
      redis.call('HSET', bal, 'reserved', m_str(m_add(m_parse(redis.call('HGET', bal, 'reserved')), amount)))
      redis.call('HSET', bal, 'kr:' .. key, m_str(m_add(m_parse(redis.call('HGET', bal, 'kr:' .. key)), amount)))
      redis.call('HSET', resv, id, m_str(amount) .. ' ' .. key)
      redis.call('ZADD', exp, tonumber(ARGV[b + 6]), id)
    end
  end
end
if admitted == 1 then
  ticket = redis.call('INCR', KEYS[1])
  for i = 1, n do
    local k, kind = KEYS[1 + i], ARGV[2 + 2 * i]
    if kind == 'rpd' then
      redis.call('INCR', k)
      redis.call('PEXPIRE', k, to_midnight() + 3600000)
    else
      local member = tostring(ticket)
      if kind == 'tpm' then member = member .. ':' .. ARGV[2] end
      redis.call('ZADD', k, now, member)
      redis.call('PEXPIRE', k, W)
      if kind == 'tpm' then
        redis.call('INCRBY', k .. ':sum', tokens)
        redis.call('PEXPIRE', k .. ':sum', W)
      end
    end
  end
end

local out = {admitted, by, worst, ticket}
for i = 1, n do
  local k, kind = KEYS[1 + i], ARGV[2 + 2 * i]
  local reset = 0
  if kind == 'rpd' then
    reset = to_midnight()
  else
    local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
    if #first == 2 then reset = tonumber(first[2]) + W - now end
  end
  out[#out + 1] = used[i]
  out[#out + 1] = reset
end
return out
