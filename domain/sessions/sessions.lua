#!lua name=sessions
-- Session functions. KEYS[1] is always the player's session hash `sess:{<player>}`.
-- Fields: sid, region, created, gw (gateway holding the socket, "" if none), v:<key> values.
-- Each function's header names the request and reply of domain/sessions/functions.py
-- that mirror its key, arguments and answer: change both together.

-- functions.Create -> functions.Ended
-- ARGV: sid, region, created, ttl_ms -> {old_sid, old_gw} or {} if there was none.
-- One live session per player: the new session replaces the whole hash atomically.
local function create(keys, argv)
  local old = server.call('HMGET', keys[1], 'sid', 'gw')
  server.call('DEL', keys[1])
  server.call('HSET', keys[1], 'sid', argv[1], 'region', argv[2], 'created', argv[3], 'gw', '')
  server.call('PEXPIRE', keys[1], argv[4])
  if old[1] then return {old[1], old[2] or ''} end
  return {}
end

-- functions.Attach -> functions.Attached
-- ARGV: sid, gateway, ttl_ms -> the hash's fields and values, or false if gone/replaced.
local function attach(keys, argv)
  if server.call('HGET', keys[1], 'sid') ~= argv[1] then return false end
  server.call('HSET', keys[1], 'gw', argv[2])
  server.call('PEXPIRE', keys[1], argv[3])
  return server.call('HGETALL', keys[1])
end

-- functions.Touch -> functions.Touched
-- ARGV: sid, ttl_ms -> 1 if the session is still this one, 0 if another replaced
-- it, -1 if it is gone (ended by an admin, or expired).
local function touch(keys, argv)
  local sid = server.call('HGET', keys[1], 'sid')
  if not sid then return -1 end
  if sid ~= argv[1] then return 0 end
  server.call('PEXPIRE', keys[1], argv[2])
  return 1
end

-- functions.Detach -> functions.Detached
-- ARGV: sid, gateway, ttl_ms -> 1 if this gateway's claim was cleared.
-- The idle clock restarts when the socket goes: the session lives ttl more without one.
local function detach(keys, argv)
  local cur = server.call('HMGET', keys[1], 'sid', 'gw')
  if cur[1] ~= argv[1] or cur[2] ~= argv[2] then return 0 end
  server.call('HSET', keys[1], 'gw', '')
  server.call('PEXPIRE', keys[1], argv[3])
  return 1
end

-- functions.SetValues -> functions.ValuesSet
-- ARGV: sid, ttl_ms, max_bytes, fields... (field, value pairs; fields already `v:`)
-- -> 1, -1 if the session is gone or another, -2 if over max_bytes.
-- The size limit counts every stored value after the merge; over it nothing changes.
local function set_values(keys, argv)
  if server.call('HGET', keys[1], 'sid') ~= argv[1] then return -1 end
  local incoming = {}
  local total = 0
  for i = 4, #argv, 2 do
    incoming[argv[i]] = true
    total = total + #argv[i] - 2 + #argv[i + 1]
  end
  local all = server.call('HGETALL', keys[1])
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'v:' and not incoming[f] then
      total = total + #f - 2 + #all[i + 1]
    end
  end
  if total > tonumber(argv[3]) then return -2 end
  for i = 4, #argv, 2 do server.call('HSET', keys[1], argv[i], argv[i + 1]) end
  server.call('PEXPIRE', keys[1], argv[2])
  return 1
end

-- functions.End -> functions.Ended
-- ARGV: sid ('' = whichever) -> {sid, gw} of the ended session, or {}.
local function end_session(keys, argv)
  local cur = server.call('HMGET', keys[1], 'sid', 'gw')
  if not cur[1] or (argv[1] ~= '' and cur[1] ~= argv[1]) then return {} end
  server.call('DEL', keys[1])
  return {cur[1], cur[2] or ''}
end

server.register_function('session_create', create)
server.register_function('session_attach', attach)
server.register_function('session_touch', touch)
server.register_function('session_detach', detach)
server.register_function('session_set_values', set_values)
server.register_function('session_end', end_session)
