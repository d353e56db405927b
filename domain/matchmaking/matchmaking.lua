-- Matchmaking scripts, one per `--- script: <name>` section, run with EVALSHA.
-- Every key a script touches is passed in KEYS, and all of them share one hash tag:
-- a partition's `{<code>}`, a player's `{p.<id>}` or the ratings' `{ratings}`.
-- Ticket hash fields: state, created (ms), data (JSON snapshot), sid (stream entry id),
-- match (match id once matched).

--- script: claim_player
-- KEYS: the player's live-ticket pointer, the player's history. ARGV: claim
-- ('<ticket id> <created ms>'), ttl_ms, replaceable (a claim the caller found finished,
-- or ''), history_ms (how long the history key lives).
-- Takes the pointer if it is free or held by `replaceable`, and notes the ticket in the
-- history until the ticket's own retention ends. -> '' or the current claim.
local cur = server.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and cur ~= ARGV[3] then return cur end
server.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ticket, created = string.match(ARGV[1], '^(%S+) (%d+)$')
server.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', created)
server.call('ZADD', KEYS[2], tonumber(created) + tonumber(ARGV[2]), 't:' .. ticket)
server.call('PEXPIRE', KEYS[2], ARGV[4])
return ''

--- script: note_match
-- KEYS: the player's current-match pointer, the player's history. ARGV: match id,
-- in_match_ms, now_ms, history_ms (the result's retention: the longest of a match's).
-- Points the player at the match and notes it in the history.
server.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
server.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
server.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[4]), 'm:' .. ARGV[1])
server.call('PEXPIRE', KEYS[2], ARGV[4])
return 1

--- script: replace_field
-- KEYS: a hash. ARGV: field, the value read, its replacement -> 1 if replaced, 0 if the
-- value changed since it was read (read again and retry). The key's expiry stays.
if server.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
server.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1

--- script: replace_value
-- KEYS: a string. ARGV: the value read, its replacement -> 1 if replaced, 0 if it changed
-- since it was read. The key's expiry stays.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
server.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1

--- script: release_player
-- KEYS: a player pointer (ticket or match). ARGV: the value we set -> 1 if deleted.
if server.call('GET', KEYS[1]) == ARGV[1] then return server.call('DEL', KEYS[1]) end
return 0

--- script: enqueue
-- KEYS: ticket, stream, waiting. ARGV: ticket_id, created_ms, now_ms, claim_limit_ms,
-- data, ttl_ms. Stores the ticket searching and appends it to the partition's stream;
-- 0 if the id is taken or the members' claims are too old to count any more.
-- Idempotent: ticket ids are random per join, so a ticket with this id and this data is
-- this join's own earlier attempt; it answers 1 again and writes, so that the caller's
-- WAIT also covers the earlier attempt.
local stored = server.call('HGET', KEYS[1], 'data')
if stored then
  if stored ~= ARGV[5] then return 0 end
  server.call('HSET', KEYS[1], 'data', stored)
  return 1
end
if tonumber(ARGV[3]) - tonumber(ARGV[2]) > tonumber(ARGV[4]) then return 0 end
local sid = server.call('XADD', KEYS[2], '*', 'k', 'j', 't', ARGV[1], 'd', ARGV[5])
server.call('HSET', KEYS[1], 'state', 'searching', 'created', ARGV[2], 'data', ARGV[5],
  'sid', sid)
server.call('PEXPIRE', KEYS[1], ARGV[6])
server.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1

--- script: cancel
-- KEYS: ticket, stream, waiting, stats. ARGV: ticket_id, player_id.
-- -> 'missing' | 'forbidden' | 'cancelled' | the finished state ('matched', 'expired').
local t = server.call('HMGET', KEYS[1], 'state', 'data', 'sid')
if not t[1] then return 'missing' end
local member = false
for _, p in ipairs(cjson.decode(t[2]).players) do
  if p == ARGV[2] then member = true break end
end
if not member then return 'forbidden' end
if t[1] == 'searching' then
  server.call('HSET', KEYS[1], 'state', 'cancelled')
  server.call('ZREM', KEYS[3], ARGV[1])
  -- Tells the owning worker to drop the ticket from its pool now, not at commit time.
  server.call('XADD', KEYS[2], '*', 'k', 'c', 't', ARGV[1], 's', t[3])
  server.call('HINCRBY', KEYS[4], 'cancelled', 1)
  return 'cancelled'
end
if t[1] == 'cancelled' then
  -- Cancelled before, maybe by a call answered `unavailable`: write, so that the
  -- caller's WAIT covers that cancel before this one is acknowledged.
  server.call('HSET', KEYS[1], 'state', 'cancelled')
end
return t[1]

--- script: read
-- KEYS: lease, stream, outbox, backfills, match key prefix. ARGV: owner, lease_ms, group,
-- count, backfill count, done outbox ids...
-- Renews the lease (false if another worker holds it), forgets delivered outbox entries
-- and returns {the entries of the stream never delivered to any worker, the open
-- backfills as {match id, match record, backfill}}.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local bfs = {}
for _, id in ipairs(server.call('SRANDMEMBER', KEYS[4], ARGV[5])) do
  local m = server.call('HMGET', KEYS[5] .. id, 'data', 'bf')
  if m[1] and m[2] then
    bfs[#bfs + 1] = {id, m[1], m[2]}
  else
    server.call('SREM', KEYS[4], id)
  end
end
table.remove(ARGV, 5)
server.call('PEXPIRE', KEYS[1], ARGV[2])
if #ARGV > 4 then server.call('XDEL', KEYS[3], unpack(ARGV, 5)) end
local function read()
  return server.pcall('XREADGROUP', 'GROUP', ARGV[3], ARGV[1], 'COUNT', ARGV[4],
    'STREAMS', KEYS[2], '>')
end
local got = read()
if type(got) == 'table' and got.err then
  -- No group yet (a stream written before any worker owned it, or no stream at all).
  server.call('XGROUP', 'CREATE', KEYS[2], ARGV[3], '0', 'MKSTREAM')
  got = read()
end
if not got then return {{}, bfs} end
if got.err then return server.error_reply(got.err) end
return {got[1][2], bfs}

--- script: takeover
-- KEYS: lease, stream. ARGV: owner, group, count, start_id.
-- Moves to the new owner what earlier owners read and never acknowledged.
-- -> {next_start_id, entries} or false if the lease is not ours.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return false end
server.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[2], '0', 'MKSTREAM')
local claimed = server.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[1], 0, ARGV[4],
  'COUNT', ARGV[3])
return {claimed[1], claimed[2]}

--- script: ack
-- KEYS: lease, stream. ARGV: owner, group, entry ids... Finished entries leave the stream.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return false end
if #ARGV > 2 then
  server.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))
  server.call('XDEL', KEYS[2], unpack(ARGV, 3))
end
return 1

--- script: settle
-- KEYS: lease, stream, waiting, stats, waits, outbox, then the keys the plan points at.
-- ARGV: owner, group, now_ms, plan JSON:
--   {m = {{k = match_key_index, id, gap, p = payload, t = {{k, id, sid}, ...}}, ...},
--    e = {{k, id, sid, max_ms, p = payload}, ...}, ttl, retention, keep}
-- Commits each match atomically (every ticket still searching, or nothing changes),
-- expires what waited too long, acknowledges finished entries, and queues the pushes
-- in the outbox. -> false if the lease is lost, else {results, outbox_ids} where a
-- result is '' (committed), 'x' (expired) or the ids of tickets no longer searching.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local group, now = ARGV[2], tonumber(ARGV[3])
local plan = cjson.decode(ARGV[4])
local results, outbox = {}, {}
local function finish(sid)
  server.call('XACK', KEYS[2], group, sid)
  server.call('XDEL', KEYS[2], sid)
end
for _, m in ipairs(plan.m) do
  local gone = {}
  for _, t in ipairs(m.t) do
    local state = server.call('HGET', KEYS[t.k], 'state')
    if state ~= 'searching' then
      gone[#gone + 1] = t.id
      server.call('ZREM', KEYS[3], t.id)
      finish(t.sid)
    end
  end
  if #gone == 0 then
    for _, t in ipairs(m.t) do
      server.call('HSET', KEYS[t.k], 'state', 'matched', 'match', m.id)
      server.call('PEXPIRE', KEYS[t.k], plan.retention)
      server.call('ZREM', KEYS[3], t.id)
      server.call('LPUSH', KEYS[5], now - tonumber(server.call('HGET', KEYS[t.k], 'created')))
      finish(t.sid)
    end
    server.call('HSET', KEYS[m.k], 'data', m.p, 'created', now)
    server.call('PEXPIRE', KEYS[m.k], plan.ttl)
    server.call('HINCRBY', KEYS[4], 'matches', 1)
    server.call('HINCRBYFLOAT', KEYS[4], 'gap_sum', m.gap)
    outbox[#outbox + 1] = server.call('XADD', KEYS[6], '*', 'k', 'f', 'd', m.p)
    results[#results + 1] = ''
  else
    results[#results + 1] = gone
  end
end
for _, e in ipairs(plan.e) do
  local t = server.call('HMGET', KEYS[e.k], 'state', 'created')
  if t[1] == 'searching' and now - tonumber(t[2]) >= e.max_ms then
    server.call('HSET', KEYS[e.k], 'state', 'expired')
    server.call('PEXPIRE', KEYS[e.k], plan.retention)
    server.call('ZREM', KEYS[3], e.id)
    server.call('HINCRBY', KEYS[4], 'expired', 1)
    outbox[#outbox + 1] = server.call('XADD', KEYS[6], '*', 'k', 'e', 'd', e.p)
    finish(e.sid)
    results[#results + 1] = 'x'
  elseif t[1] == 'searching' then
    results[#results + 1] = {}
  else
    server.call('ZREM', KEYS[3], e.id)
    finish(e.sid)
    results[#results + 1] = {e.id}
  end
end
if plan.af > 0 then server.call('HINCRBY', KEYS[4], 'alloc_failed', plan.af) end
server.call('LTRIM', KEYS[5], 0, plan.keep - 1)
return {results, outbox}

--- script: backfill_fill
-- KEYS: lease, stream, waiting, stats, waits, outbox, match, backfills, then the tickets.
-- ARGV: owner, group, now_ms, plan JSON:
--   {match, id = backfill id, data = new match record, open = backfill left ('' = done),
--    push = outbox payload, keep, retention, t = {{k, id, sid}, ...}}
-- Adds the tickets to the match if the backfill is still the one planned for and every
-- ticket still searches. -> false (lease lost), {'closed'}, {'gone', ids...} or
-- {'ok', outbox id}.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local group, now = ARGV[2], tonumber(ARGV[3])
local plan = cjson.decode(ARGV[4])
local bf = server.call('HGET', KEYS[7], 'bf')
if not bf or cjson.decode(bf).id ~= plan.id then return {'closed'} end
local function finish(sid)
  server.call('XACK', KEYS[2], group, sid)
  server.call('XDEL', KEYS[2], sid)
end
local gone = {'gone'}
for _, t in ipairs(plan.t) do
  if server.call('HGET', KEYS[t.k], 'state') ~= 'searching' then
    gone[#gone + 1] = t.id
    server.call('ZREM', KEYS[3], t.id)
    finish(t.sid)
  end
end
if #gone > 1 then return gone end
for _, t in ipairs(plan.t) do
  server.call('HSET', KEYS[t.k], 'state', 'matched', 'match', plan.match)
  server.call('PEXPIRE', KEYS[t.k], plan.retention)
  server.call('ZREM', KEYS[3], t.id)
  server.call('LPUSH', KEYS[5], now - tonumber(server.call('HGET', KEYS[t.k], 'created')))
  finish(t.sid)
end
server.call('HSET', KEYS[7], 'data', plan.data)
if plan.open == '' then
  server.call('HDEL', KEYS[7], 'bf')
  server.call('SREM', KEYS[8], plan.match)
else
  server.call('HSET', KEYS[7], 'bf', plan.open)
end
server.call('HINCRBY', KEYS[4], 'backfilled', #plan.t)
server.call('LTRIM', KEYS[5], 0, plan.keep - 1)
return {'ok', server.call('XADD', KEYS[6], '*', 'k', 'b', 'd', plan.push)}

--- script: backfill_open
-- KEYS: match, backfills. ARGV: match id, backfill JSON -> 0 if no such match, else 1.
-- Replaces any backfill open on the match.
if server.call('EXISTS', KEYS[1]) == 0 then return 0 end
server.call('HSET', KEYS[1], 'bf', ARGV[2])
server.call('SADD', KEYS[2], ARGV[1])
return 1

--- script: backfill_close
-- KEYS: match, backfills. ARGV: match id -> 0 if no such match, else 1.
if server.call('EXISTS', KEYS[1]) == 0 then return 0 end
server.call('HDEL', KEYS[1], 'bf')
server.call('SREM', KEYS[2], ARGV[1])
return 1

--- script: outbox
-- KEYS: lease, outbox. ARGV: owner, lease_ms, count.
-- The pushes committed and not yet delivered; false if the lease is not ours. Renewing
-- the lease is a write, so a WAIT after this call covers every commit that queued them.
if server.call('GET', KEYS[1]) ~= ARGV[1] then return false end
server.call('PEXPIRE', KEYS[1], ARGV[2])
return server.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[3])

--- script: lease_release
-- KEYS: lease. ARGV: owner -> 1 if released.
if server.call('GET', KEYS[1]) == ARGV[1] then return server.call('DEL', KEYS[1]) end
return 0

--- script: save_result
-- KEYS: ratings hash, result key. ARGV: ttl_ms, result_json, n, n players,
-- n ratings as read ('' = none yet), n new ratings.
-- Applies all new ratings at once if none changed since they were read, and records the
-- result so a repeat gets it back. -> {1, result} applied, {0, result} already rated,
-- {2} someone else's result changed a rating meanwhile (recompute and retry).
local prev = server.call('GET', KEYS[2])
if prev then
  -- Write, so that the caller's WAIT covers the first report before this one answers.
  server.call('SET', KEYS[2], prev, 'KEEPTTL')
  return {0, prev}
end
local n = tonumber(ARGV[3])
for i = 1, n do
  if (server.call('HGET', KEYS[1], ARGV[3 + i]) or '') ~= ARGV[3 + n + i] then return {2} end
end
for i = 1, n do server.call('HSET', KEYS[1], ARGV[3 + i], ARGV[3 + 2 * n + i]) end
server.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return {1, ARGV[2]}
