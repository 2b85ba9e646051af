-- The balance and what is held, after releasing expired reservations.
-- KEYS = balance hash, reservations hash, expiry zset; ARGV[1] = now (ms).
b_sweep(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]))
return {m_str(m_parse(redis.call('HGET', KEYS[1], 'balance'))), m_str(m_parse(redis.call('HGET', KEYS[1], 'reserved')))}
