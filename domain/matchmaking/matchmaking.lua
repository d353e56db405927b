#!lua name=matchmaking
-- Matchmaking functions, registered as `mm_<name>` (domain/matchmaking/store.py calls
-- them). Every key a function touches is passed in `keys`, and all of them share one hash
-- tag: a partition's `{<code>}`, a player's `{p.<id>}`, the ratings' `{ratings}` or the
-- registry's `{mm}`.
-- Ticket hash fields: state, created (ms), data (JSON snapshot), sid (stream entry id),
-- match (match id once matched).
-- Each function's header names the request and reply of domain/matchmaking/functions.py
-- that mirror its keys, arguments and answer: change both together.

-- A player's history: a sorted set of 't:<ticket id>' and 'm:<match id>', scored by when
-- the record's retention ends (ms). Notes `member` until `ends`, drops what ended by
-- `now`, and keeps the history `ttl_ms` from now.
local function note_history(history, member, now, ends, ttl_ms)
  server.call('ZREMRANGEBYSCORE', history, '-inf', now)
  server.call('ZADD', history, ends, member)
  server.call('PEXPIRE', history, ttl_ms)
end

-- functions.ClaimPlayer -> functions.Holder
-- KEYS: pointer (the player's live ticket), history (the player's)
-- ARGV: claim, ttl_ms, replaceable, history_ms
-- `claim` is '<ticket id> <created ms>', `replaceable` a claim the caller found finished
-- (or ''), `history_ms` how long the history key lives.
-- Takes the pointer if it is free or held by `replaceable`, and notes the ticket in the
-- history until the ticket's own retention ends. -> '' or the current claim.
local function claim_player(keys, argv)
  local cur = server.call('GET', keys[1])
  if cur and cur ~= argv[1] and cur ~= argv[3] then return cur end
  server.call('SET', keys[1], argv[1], 'PX', argv[2])
  local ticket, created = string.match(argv[1], '^(%S+) (%d+)$')
  note_history(keys[2], 't:' .. ticket, created, tonumber(created) + tonumber(argv[2]), argv[4])
  return ''
end

-- functions.NoteMatch -> functions.Applied
-- KEYS: pointer (the player's current match), history (the player's)
-- ARGV: match_id, in_match_ms, now_ms, history_ms (the result's retention: the longest
-- of a match's).
-- Points the player at the match and notes it in the history.
local function note_match(keys, argv)
  server.call('SET', keys[1], argv[1], 'PX', argv[2])
  note_history(keys[2], 'm:' .. argv[1], argv[3], tonumber(argv[3]) + tonumber(argv[4]), argv[4])
  return 1
end

-- functions.ReplaceField -> functions.Applied
-- KEYS: a hash; ARGV: field, read (the value read), replacement -> 1 if replaced, 0 if
-- the value changed since it was read (read again and retry). The key's expiry stays.
local function replace_field(keys, argv)
  if server.call('HGET', keys[1], argv[1]) ~= argv[2] then return 0 end
  server.call('HSET', keys[1], argv[1], argv[3])
  return 1
end

-- functions.ReplaceValue -> functions.Applied
-- KEYS: a string; ARGV: read (the value read), replacement -> 1 if replaced, 0 if it
-- changed since it was read. The key's expiry stays.
local function replace_value(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return 0 end
  server.call('SET', keys[1], argv[2], 'KEEPTTL')
  return 1
end

-- functions.ReleasePlayer -> functions.Applied
-- KEYS: a player pointer (ticket or match); ARGV: value (the one we set) -> 1 if deleted.
local function release_player(keys, argv)
  if server.call('GET', keys[1]) == argv[1] then return server.call('DEL', keys[1]) end
  return 0
end

-- functions.Enqueue -> functions.Applied
-- KEYS: ticket, stream, waiting
-- ARGV: ticket_id, created_ms, now_ms, claim_limit_ms, data, ttl_ms
-- Stores the ticket searching and appends it to the partition's stream;
-- 0 if the id is taken or the members' claims are too old to count any more.
-- Idempotent: ticket ids are random per join, so a ticket with this id and this data is
-- this join's own earlier attempt; it answers 1 again and writes, so that the caller's
-- WAIT also covers the earlier attempt.
local function enqueue(keys, argv)
  local stored = server.call('HGET', keys[1], 'data')
  if stored then
    if stored ~= argv[5] then return 0 end
    server.call('HSET', keys[1], 'data', stored)
    return 1
  end
  if tonumber(argv[3]) - tonumber(argv[2]) > tonumber(argv[4]) then return 0 end
  local sid = server.call('XADD', keys[2], '*', 'k', 'j', 't', argv[1], 'd', argv[5])
  server.call('HSET', keys[1], 'state', 'searching', 'created', argv[2], 'data', argv[5],
    'sid', sid)
  server.call('PEXPIRE', keys[1], argv[6])
  server.call('ZADD', keys[3], argv[2], argv[1])
  return 1
end

-- functions.Cancel -> functions.Cancelled
-- KEYS: ticket, stream, waiting, stats; ARGV: ticket_id, player_id
-- -> 'missing' | 'forbidden' | 'cancelled' | the finished state ('matched', 'expired').
local function cancel(keys, argv)
  local t = server.call('HMGET', keys[1], 'state', 'data', 'sid')
  if not t[1] then return 'missing' end
  local member = false
  for _, p in ipairs(cjson.decode(t[2]).players) do
    if p == argv[2] then member = true break end
  end
  if not member then return 'forbidden' end
  if t[1] == 'searching' then
    server.call('HSET', keys[1], 'state', 'cancelled')
    server.call('ZREM', keys[3], argv[1])
    -- Tells the owning worker to drop the ticket from its pool now, not at commit time.
    server.call('XADD', keys[2], '*', 'k', 'c', 't', argv[1], 's', t[3])
    server.call('HINCRBY', keys[4], 'cancelled', 1)
    return 'cancelled'
  end
  if t[1] == 'cancelled' then
    -- Cancelled before, maybe by a call answered `unavailable`: write, so that the
    -- caller's WAIT covers that cancel before this one is acknowledged.
    server.call('HSET', keys[1], 'state', 'cancelled')
  end
  return t[1]
end

-- functions.ReadEntries -> functions.Entries
-- KEYS: lease, stream, outbox, backfills, match key prefix
-- ARGV: owner, lease_ms, group, count, backfill_count, done_outbox...
-- Renews the lease (false if another worker holds it), forgets delivered outbox entries
-- and returns {the entries of the stream never delivered to any worker, the open
-- backfills as {match id, match record, backfill}}.
local function read_entries(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return false end
  local bfs = {}
  for _, id in ipairs(server.call('SRANDMEMBER', keys[4], argv[5])) do
    local m = server.call('HMGET', keys[5] .. id, 'data', 'bf')
    if m[1] and m[2] then
      bfs[#bfs + 1] = {id, m[1], m[2]}
    else
      server.call('SREM', keys[4], id)
    end
  end
  table.remove(argv, 5)
  server.call('PEXPIRE', keys[1], argv[2])
  if #argv > 4 then server.call('XDEL', keys[3], unpack(argv, 5)) end
  local function read()
    return server.pcall('XREADGROUP', 'GROUP', argv[3], argv[1], 'COUNT', argv[4],
      'STREAMS', keys[2], '>')
  end
  local got = read()
  if type(got) == 'table' and got.err then
    -- No group yet (a stream written before any worker owned it, or no stream at all).
    server.call('XGROUP', 'CREATE', keys[2], argv[3], '0', 'MKSTREAM')
    got = read()
  end
  if not got then return {{}, bfs} end
  if got.err then return server.error_reply(got.err) end
  return {got[1][2], bfs}
end

-- functions.Takeover -> functions.TakenOver
-- KEYS: lease, stream; ARGV: owner, group, count, start_id
-- Moves to the new owner what earlier owners read and never acknowledged.
-- -> {next_start_id, entries} or false if the lease is not ours.
local function takeover(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return false end
  server.pcall('XGROUP', 'CREATE', keys[2], argv[2], '0', 'MKSTREAM')
  local claimed = server.call('XAUTOCLAIM', keys[2], argv[2], argv[1], 0, argv[4],
    'COUNT', argv[3])
  return {claimed[1], claimed[2]}
end

-- functions.Ack -> functions.LeaseHeld
-- KEYS: lease, stream; ARGV: owner, group, entry_ids... -> 1, false if the lease is not
-- ours. Finished entries leave the stream.
local function ack(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return false end
  if #argv > 2 then
    server.call('XACK', keys[2], argv[2], unpack(argv, 3))
    server.call('XDEL', keys[2], unpack(argv, 3))
  end
  return 1
end

-- A partition's join entry dealt with: acknowledged and deleted from its stream.
local function finish(stream, group, sid)
  server.call('XACK', stream, group, sid)
  server.call('XDEL', stream, sid)
end

-- For settle and backfill_fill (KEYS: lease, stream, waiting, stats, waits, ...): the ids
-- of `tickets` ({k, id, sid}, k their key's index) no longer searching, each taken off
-- the waiting set with its join entry finished.
local function not_searching(keys, group, tickets)
  local gone = {}
  for _, t in ipairs(tickets) do
    if server.call('HGET', keys[t.k], 'state') ~= 'searching' then
      gone[#gone + 1] = t.id
      server.call('ZREM', keys[3], t.id)
      finish(keys[2], group, t.sid)
    end
  end
  return gone
end

-- The same `tickets`, matched into `match_id`: kept `retention` ms, their waits noted.
local function mark_matched(keys, group, tickets, match_id, retention, now)
  for _, t in ipairs(tickets) do
    server.call('HSET', keys[t.k], 'state', 'matched', 'match', match_id)
    server.call('PEXPIRE', keys[t.k], retention)
    server.call('ZREM', keys[3], t.id)
    server.call('LPUSH', keys[5], now - tonumber(server.call('HGET', keys[t.k], 'created')))
    finish(keys[2], group, t.sid)
  end
end

-- functions.Settle -> functions.Settled
-- KEYS: lease, stream, waiting, stats, waits, outbox, then the keys the plan points at
-- ARGV: owner, group, now_ms, plan (JSON):
--   {m = {{k = match_key_index, id, gap, p = payload, t = {{k, id, sid}, ...}}, ...},
--    e = {{k, id, sid, max_ms, p = payload}, ...}, ttl, retention, keep}
-- Commits each match atomically (every ticket still searching, or nothing changes),
-- expires what waited too long, acknowledges finished entries, and queues the pushes
-- in the outbox. -> false if the lease is lost, else {results, outbox_ids} where a
-- result is '' (committed), 'x' (expired) or the ids of tickets no longer searching.
local function settle(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return false end
  local group, now = argv[2], tonumber(argv[3])
  local plan = cjson.decode(argv[4])
  local results, outbox = {}, {}
  for _, m in ipairs(plan.m) do
    local gone = not_searching(keys, group, m.t)
    if #gone == 0 then
      mark_matched(keys, group, m.t, m.id, plan.retention, now)
      server.call('HSET', keys[m.k], 'data', m.p, 'created', now)
      server.call('PEXPIRE', keys[m.k], plan.ttl)
      server.call('HINCRBY', keys[4], 'matches', 1)
      server.call('HINCRBYFLOAT', keys[4], 'gap_sum', m.gap)
      outbox[#outbox + 1] = server.call('XADD', keys[6], '*', 'k', 'f', 'd', m.p)
      results[#results + 1] = ''
    else
      results[#results + 1] = gone
    end
  end
  for _, e in ipairs(plan.e) do
    local t = server.call('HMGET', keys[e.k], 'state', 'created')
    if t[1] == 'searching' and now - tonumber(t[2]) >= e.max_ms then
      server.call('HSET', keys[e.k], 'state', 'expired')
      server.call('PEXPIRE', keys[e.k], plan.retention)
      server.call('ZREM', keys[3], e.id)
      server.call('HINCRBY', keys[4], 'expired', 1)
      outbox[#outbox + 1] = server.call('XADD', keys[6], '*', 'k', 'e', 'd', e.p)
      finish(keys[2], group, e.sid)
      results[#results + 1] = 'x'
    elseif t[1] == 'searching' then
      results[#results + 1] = {}
    else
      server.call('ZREM', keys[3], e.id)
      finish(keys[2], group, e.sid)
      results[#results + 1] = {e.id}
    end
  end
  if plan.af > 0 then server.call('HINCRBY', keys[4], 'alloc_failed', plan.af) end
  server.call('LTRIM', keys[5], 0, plan.keep - 1)
  return {results, outbox}
end

-- functions.BackfillFill -> functions.Filled
-- KEYS: lease, stream, waiting, stats, waits, outbox, match, backfills, then the tickets
-- ARGV: owner, group, now_ms, plan (JSON):
--   {match, id = backfill id, data = new match record, open = backfill left ('' = done),
--    push = outbox payload, keep, retention, t = {{k, id, sid}, ...}}
-- Adds the tickets to the match if the backfill is still the one planned for and every
-- ticket still searches. -> false (lease lost), {'closed'}, {'gone', ids...} or
-- {'ok', outbox id}.
local function backfill_fill(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return false end
  local group, now = argv[2], tonumber(argv[3])
  local plan = cjson.decode(argv[4])
  local bf = server.call('HGET', keys[7], 'bf')
  if not bf or cjson.decode(bf).id ~= plan.id then return {'closed'} end
  local gone = not_searching(keys, group, plan.t)
  if #gone > 0 then
    table.insert(gone, 1, 'gone')
    return gone
  end
  mark_matched(keys, group, plan.t, plan.match, plan.retention, now)
  server.call('HSET', keys[7], 'data', plan.data)
  if plan.open == '' then
    server.call('HDEL', keys[7], 'bf')
    server.call('SREM', keys[8], plan.match)
  else
    server.call('HSET', keys[7], 'bf', plan.open)
  end
  server.call('HINCRBY', keys[4], 'backfilled', #plan.t)
  server.call('LTRIM', keys[5], 0, plan.keep - 1)
  return {'ok', server.call('XADD', keys[6], '*', 'k', 'b', 'd', plan.push)}
end

-- functions.BackfillOpen -> functions.Applied
-- KEYS: match, backfills; ARGV: match_id, backfill (JSON) -> 0 if no such match, else 1.
-- Replaces any backfill open on the match.
local function backfill_open(keys, argv)
  if server.call('EXISTS', keys[1]) == 0 then return 0 end
  server.call('HSET', keys[1], 'bf', argv[2])
  server.call('SADD', keys[2], argv[1])
  return 1
end

-- functions.BackfillClose -> functions.Applied
-- KEYS: match, backfills; ARGV: match_id -> 0 if no such match, else 1.
local function backfill_close(keys, argv)
  if server.call('EXISTS', keys[1]) == 0 then return 0 end
  server.call('HDEL', keys[1], 'bf')
  server.call('SREM', keys[2], argv[1])
  return 1
end

-- functions.Outbox -> functions.Pushes
-- KEYS: lease, outbox; ARGV: owner, lease_ms, count
-- The pushes committed and not yet delivered; false if the lease is not ours. Renewing
-- the lease is a write, so a WAIT after this call covers every commit that queued them.
local function outbox(keys, argv)
  if server.call('GET', keys[1]) ~= argv[1] then return false end
  server.call('PEXPIRE', keys[1], argv[2])
  return server.call('XRANGE', keys[2], '-', '+', 'COUNT', argv[3])
end

-- functions.LeaseRelease -> functions.Applied
-- KEYS: lease; ARGV: owner -> 1 if released.
local function lease_release(keys, argv)
  if server.call('GET', keys[1]) == argv[1] then return server.call('DEL', keys[1]) end
  return 0
end

-- functions.SaveResult -> functions.Saved
-- KEYS: ratings (hash), result; ARGV: ttl_ms, result_json, n, n players, n ratings as
-- read ('' = none yet), n new ratings.
-- Applies all new ratings at once if none changed since they were read, and records the
-- result so a repeat gets it back. -> {1, result} applied, {0, result} already rated,
-- {2} someone else's result changed a rating meanwhile (recompute and retry).
local function save_result(keys, argv)
  local prev = server.call('GET', keys[2])
  if prev then
    -- Write, so that the caller's WAIT covers the first report before this one answers.
    server.call('SET', keys[2], prev, 'KEEPTTL')
    return {0, prev}
  end
  local n = tonumber(argv[3])
  for i = 1, n do
    if (server.call('HGET', keys[1], argv[3 + i]) or '') ~= argv[3 + n + i] then return {2} end
  end
  for i = 1, n do server.call('HSET', keys[1], argv[3 + i], argv[3 + 2 * n + i]) end
  server.call('SET', keys[2], argv[2], 'PX', argv[1])
  return {1, argv[2]}
end

-- functions.Heartbeat -> functions.Registry
-- KEYS: workers (live ones), partitions, queues (the registry, `{mm}`)
-- ARGV: worker_id, now_ms, stale_ms
-- Notes the worker alive and forgets workers silent for `stale_ms`.
-- -> {live workers, partitions as field/value pairs, queues as field/value pairs}.
local function heartbeat(keys, argv)
  server.call('ZADD', keys[1], argv[2], argv[1])
  server.call('ZREMRANGEBYSCORE', keys[1], '-inf', tonumber(argv[2]) - tonumber(argv[3]))
  return {server.call('ZCARD', keys[1]), server.call('HGETALL', keys[2]),
    server.call('HGETALL', keys[3])}
end

server.register_function('mm_claim_player', claim_player)
server.register_function('mm_note_match', note_match)
server.register_function('mm_replace_field', replace_field)
server.register_function('mm_replace_value', replace_value)
server.register_function('mm_release_player', release_player)
server.register_function('mm_enqueue', enqueue)
server.register_function('mm_cancel', cancel)
server.register_function('mm_read', read_entries)
server.register_function('mm_takeover', takeover)
server.register_function('mm_ack', ack)
server.register_function('mm_settle', settle)
server.register_function('mm_backfill_fill', backfill_fill)
server.register_function('mm_backfill_open', backfill_open)
server.register_function('mm_backfill_close', backfill_close)
server.register_function('mm_outbox', outbox)
server.register_function('mm_lease_release', lease_release)
server.register_function('mm_save_result', save_result)
server.register_function('mm_heartbeat', heartbeat)
