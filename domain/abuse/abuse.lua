#!lua name=abuse
-- Per-address rate limits (GCRA). KEYS[1] is the limit's key `abuse:{<kind>:<address>}`,
-- holding the theoretical arrival time (Unix ms) of the next request; it expires once
-- the bucket is full again, so an idle address holds no key.
-- Each function's header names the request and reply of domain/abuse/functions.py
-- that mirror its key, arguments and answer: change both together.

-- functions.Take -> functions.Taken
-- ARGV: rate_per_s, burst -> {1, 0} if allowed (and counted), else {0, retry_after_ms}.
-- The clock is the server's (TIME), so every gateway judges by the same time.
local function take(keys, argv)
  local rate = tonumber(argv[1])
  local burst = tonumber(argv[2])
  local t = server.call('TIME')
  local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  local interval = 1000 / rate
  local tat = tonumber(server.call('GET', keys[1])) or now
  if tat < now then tat = now end
  local next_tat = tat + interval
  local allowed_at = next_tat - burst * interval
  if allowed_at > now then
    return {0, math.ceil(allowed_at - now)}
  end
  server.call('SET', keys[1], string.format('%.3f', next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
  return {1, 0}
end

server.register_function('abuse_take', take)
