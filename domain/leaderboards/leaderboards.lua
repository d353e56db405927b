#!lua name=leaderboards

-- Server side of domain/leaderboards/store.py; keys are named in keys.py. Each function's
-- header names the request and reply of domain/leaderboards/functions.py that mirror
-- its keys, arguments and answer: change both together.
-- Stored scores are normalised: smaller is better. A sorted-set member is the 8-byte
-- big-endian stamp (microsecond the entry reached its score) followed by the player id,
-- so the set's own (score, member) order is the board order, ties included.
-- All keys of one call share one hash tag; some keys (buckets of a period) are derived
-- here from a declared prefix, always within the same slot.

local STAMP = 8

local function stamp_of(member)
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(member, 1, STAMP)
  return ((((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
end

local function pack_stamp(t)
  local bytes = {}
  for i = STAMP, 1, -1 do
    bytes[i] = t % 256
    t = math.floor(t / 256)
  end
  return string.char(unpack(bytes))
end

local function fmt_int(n)
  return string.format('%.0f', n)
end

-- Member order is byte order. Lua's `<` on strings uses strcoll (the server's locale),
-- so stamps compare as numbers and player ids byte by byte.
local function member_before(a, b)
  local sa, sb = stamp_of(a), stamp_of(b)
  if sa ~= sb then return sa < sb end
  local la, lb = #a, #b
  for i = STAMP + 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la < lb
end

-- Whether position (sa, ma) is strictly better than (sb, mb).
local function position_before(sa, ma, sb, mb)
  if sa ~= sb then return sa < sb end
  return member_before(ma, mb)
end

-- How many entries of z are better than position (s, m): those with a smaller score,
-- plus a binary search by index among the entries tied at s.
local function count_better(z, s, m)
  local lo = redis.call('ZCOUNT', z, '-inf', '(' .. s)
  local hi = lo + redis.call('ZCOUNT', z, s, s)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if member_before(redis.call('ZRANGE', z, mid, mid)[1], m) then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end

-- The same count in a sibling sub-board of this node (the caller's slot map says it is
-- here): false if the node does not serve it any more, and the caller counts it later.
local function count_sibling(z, s, m)
  local ok, n = pcall(count_better, z, s, m)
  if ok then return n end
  return false
end

-- Appends, for each sibling sub-board named from args[first] on, the entries better than
-- the new position and than the old one (false without an old one).
local function append_sibling_counts(out, args, first, new_s, new_m, old_s, old_m)
  for i = first, #args do
    out[#out + 1] = count_sibling(args[i], new_s, new_m)
    out[#out + 1] = old_s and count_sibling(args[i], old_s, old_m) or false
  end
  return out
end

-- Writes carry the board version they were planned with; an older one than the fence
-- means the board was reset or deleted since: the caller refreshes and plans again.
-- Checked before and advanced only once the write is sure to happen, so that a refused
-- write changes nothing.
local function fence_ok(s, version)
  return version >= tonumber(redis.call('HGET', s, 'v') or '0')
end

-- The state hash as a writing function reads it, once: {fence, last stamp}.
local function read_state(s)
  local state = redis.call('HMGET', s, 'v', 't')
  return {fence = tonumber(state[1] or '0'), last = tonumber(state[2] or '0')}
end

-- A stamp strictly after the sub-board's previous one, even if the clock steps back,
-- written with the fence raised to `version` when that is newer (one write of the
-- state hash). Also makes every write call write, so a WAIT after it covers all
-- earlier writes.
local function next_stamp(s, state, version)
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  if now <= state.last then now = state.last + 1 end
  if version > state.fence then
    redis.call('HSET', s, 't', fmt_int(now), 'v', fmt_int(version))
  else
    redis.call('HSET', s, 't', fmt_int(now))
  end
  return now
end

local function publish(channel, kind, label, pid, old_s, old_m, new_s, new_m, now)
  local fields = {kind, label, pid, '-', '-', '-', '-', fmt_int(now)}
  if old_s then fields[4], fields[5] = old_s, fmt_int(stamp_of(old_m)) end
  if new_s then fields[6], fields[7] = new_s, fmt_int(stamp_of(new_m)) end
  redis.call('SPUBLISH', channel, table.concat(fields, ' '))
end

local function append_entries(out, z, m, first, last, with_meta)
  if last < first then return end
  local items = redis.call('ZRANGE', z, first, last, 'WITHSCORES')
  for i = 1, #items, 2 do
    local member = items[i]
    out[#out + 1] = items[i + 1]
    out[#out + 1] = member
    out[#out + 1] = with_meta and redis.call('HGET', m, string.sub(member, STAMP + 1)) or false
  end
end

-- Score rules (store.py `encode_rules`): '' for a board without any, else words
-- `name=value` for the rules set (numbers; 1/0 for flags), plus `client` (a client's
-- write), `now` (the gateway's unix s) and `seats` (the player must hold a seat).
local function parse_rules(raw)
  if raw == '' then return nil end
  local rules = {}
  for name, value in string.gmatch(raw, '([%w_]+)=(%S+)') do rules[name] = tonumber(value) end
  return rules
end

local MINUTE = 60

-- a + b if the exact sum is within ±bound, else nil. Past 2^53 doubles are 2 apart, so
-- a sum can round onto ±bound from beyond it (2^53 + 1 gives 2^53): the sum's rounding
-- error (Knuth's TwoSum, exact in doubles) tells which side the exact sum lies on.
local function sum_within(a, b, bound)
  local sum = a + b
  if sum > bound or sum < -bound then return nil end
  local b_part = sum - a
  local err = (a - (sum - b_part)) + (b - b_part)
  if (sum == bound and err > 0) or (sum == -bound and err < 0) then return nil end
  return sum
end

-- Why a write breaks the rules (before anything is written), or nil. `value` is what
-- the player sent, `user` the score after the operator (the same for best and set).
local function refusal(rules, value, user, tally, rate, pid)
  local client, now = rules.client == 1, rules.now
  if client and rules.client_writes == 0 then return 'client_writes' end
  if rules.start_at and now < rules.start_at then return 'not_started' end
  if rules.end_at and now >= rules.end_at then return 'ended' end
  if rules.min_score and user < rules.min_score then return 'below_min' end
  if rules.max_score and user > rules.max_score then return 'above_max' end
  if rules.max_step and math.abs(value) > rules.max_step then return 'step' end
  if rules.seats == 1 and redis.call('HEXISTS', tally, 'j:' .. pid) == 0 then
    if rules.join_required == 1 then return 'not_joined' end
    return 'no_seat'
  end
  local attempts = rules.max_attempts
  if attempts and tonumber(redis.call('HGET', tally, 'a:' .. pid) or '0') >= attempts then
    return 'attempts'
  end
  if client and rules.writes_per_minute then
    -- A write counts against the limit for one minute: while its time > now - MINUTE.
    local recent = redis.call('ZCOUNT', rate, '(' .. string.format('%.6f', now - MINUTE), '+inf')
    if recent >= rules.writes_per_minute then return 'rate' end
  end
  return nil
end

-- Books an accepted write against the rules that count writes.
local function count_write(rules, tally, rate, pid, ttl, stamp)
  if rules.max_attempts then
    redis.call('HINCRBY', tally, 'a:' .. pid, 1)
    if ttl > 0 then redis.call('EXPIRE', tally, ttl, 'NX') end
  end
  if rules.client == 1 and rules.writes_per_minute then
    redis.call('ZREMRANGEBYSCORE', rate, '-inf', string.format('%.6f', rules.now - MINUTE))
    redis.call('ZADD', rate, string.format('%.6f', rules.now), fmt_int(stamp))
    redis.call('EXPIRE', rate, MINUTE + 1)
  end
end

-- functions.Submit -> functions.SubmitReply
-- KEYS: zset, bucket, meta, state[, tally, rate (with rules)][, requests]
-- ARGV: version, op, order, player, score, has_meta, meta, ttl_s, channel, period,
--       request_ttl_ms, bound, rules, request id ('' = none), sibling zset...
-- `requests` is the player's hash of idempotent outcomes: request id -> outcome, each
-- field expiring on its own, so erasing the player is one DEL.
-- -> {'OK'|'DUP', new score, new member, old score, old member, own rank now,
--     own rank before, changed, (sibling: better than new, better than old)...}
--    | {'STALE'} | {'RANGE'} | {'REFUSED', reason}
local function submit(keys, args)
  local z, b, m, s = keys[1], keys[2], keys[3], keys[4]
  local version, op, desc, pid = tonumber(args[1]), args[2], args[3] == 'desc', args[4]
  local x, has_meta, meta, ttl = tonumber(args[5]), args[6] == '1', args[7], tonumber(args[8])
  local channel, label, request_ttl_ms, bound = args[9], args[10], args[11], tonumber(args[12])
  local rules = parse_rules(args[13])
  local request = args[14]
  local tally, rate, r = false, false, keys[5]
  if rules then tally, rate, r = keys[5], keys[6], keys[7] end
  local state = read_state(s)
  if version < state.fence then return {'STALE'} end
  if r then
    local prior = redis.call('HGET', r, request)
    if prior then
      -- A write, so that the caller's WAIT also covers the first attempt's write.
      redis.call('HPEXPIRE', r, request_ttl_ms, 'FIELDS', 1, request)
      local ns, nm, ps, pm, changed = cmsgpack.unpack(prior)
      -- Ranks of the remembered positions as the board stands now, among the others:
      -- the player's own entry (wherever it is now) is not better than itself.
      local now_s, now_m = false, false
      local now_t = redis.call('HGET', b, pid)
      if now_t then
        now_m = now_t .. pid
        now_s = redis.call('ZSCORE', z, now_m)
      end
      local function others_better(s, m)
        local n = count_better(z, s, m)
        if now_s and position_before(tonumber(now_s), now_m, tonumber(s), m) then n = n - 1 end
        return n
      end
      local own_old = false
      if ps then own_old = others_better(ps, pm) end
      local out = {'DUP', ns, nm, ps, pm, others_better(ns, nm), own_old, changed}
      return append_sibling_counts(out, args, 15, ns, nm, ps, pm)
    end
  end
  local old_m, old_s, old_n, old_rank = false, false, nil, false
  local old_t = redis.call('HGET', b, pid)
  if old_t then
    old_m = old_t .. pid
    local found = redis.call('ZRANK', z, old_m, 'WITHSCORE')
    if found then
      old_rank, old_s = found[1], found[2]
      old_n = tonumber(old_s)
    else
      old_m = false
    end
  end
  local new_n, user = nil, x
  if op == 'incr' or op == 'decr' then
    local base = 0
    if old_n then base = desc and -old_n or old_n end
    user = sum_within(base, op == 'incr' and x or -x, bound)
    if not user then return {'RANGE'} end
    new_n = desc and -user or user
  else
    new_n = desc and -x or x
  end
  if new_n == 0 then new_n = 0 end
  if rules then
    local reason = refusal(rules, x, user, tally, rate, pid)
    if reason then return {'REFUSED', reason} end
  end
  local changed, moved = 1, true
  if old_n then
    if op == 'best' then
      moved = new_n < old_n
      if not moved then changed = 0 end
    else
      moved = new_n ~= old_n
    end
  end
  local now = next_stamp(s, state, version)
  if rules then count_write(rules, tally, rate, pid, ttl, now) end
  local own_old = old_rank
  local new_s, new_m = old_s, old_m
  if moved then
    local packed = pack_stamp(now)
    new_s, new_m = string.format('%.17g', new_n), packed .. pid
    if old_m then redis.call('ZREM', z, old_m) end
    redis.call('ZADD', z, new_s, new_m)
    redis.call('HSET', b, pid, packed)
    if ttl > 0 and not old_m then
      redis.call('EXPIRE', z, ttl)
      redis.call('EXPIRE', b, ttl)
    end
  end
  if changed == 1 then
    -- New metadata replaces the old unread; without any, the old one is kept.
    local json, old_meta = false, false
    if has_meta then
      json = meta
    else
      old_meta = redis.call('HGET', m, pid)
      if old_meta then json = string.sub(old_meta, STAMP + 1) end
    end
    -- The meta value holds the update stamp whenever it differs from the score's stamp.
    if (json and #json > 0) or not moved then
      redis.call('HSET', m, pid, pack_stamp(now) .. (json or ''))
      if ttl > 0 then redis.call('EXPIRE', m, ttl) end
    elseif has_meta or old_meta then
      redis.call('HDEL', m, pid)
    end
    publish(channel, 'w', label, pid, old_s, old_m, new_s, new_m, now)
  end
  if r then
    local outcome = cmsgpack.pack(new_s, new_m, old_s, old_m, changed)
    redis.call('HSETEX', r, 'PX', request_ttl_ms, 'FIELDS', 1, request, outcome)
  end
  -- An entry that did not move kept its rank (nothing else in z changed).
  local own_new = own_old
  if moved then own_new = redis.call('ZRANK', z, new_m) end
  local out = {'OK', new_s, new_m, old_s, old_m, own_new, own_old, changed}
  return append_sibling_counts(out, args, 15, new_s, new_m, old_s, old_m)
end

-- functions.Remove -> functions.RemoveReply
-- KEYS: zset, bucket, meta, state[, tally (a board that takes seats)]
-- ARGV: version, player, channel, period
-- With the tally, the player's seat mark goes too (its attempts stay counted): the
-- caller then frees the board-wide seat, and the player must take a seat again to write.
-- -> {'OK'} (an entry or a seat mark was removed) | {'ABSENT'} | {'STALE'}
local function remove(keys, args)
  local z, b, m, s, tally = keys[1], keys[2], keys[3], keys[4], keys[5]
  local version, pid, channel, label = tonumber(args[1]), args[2], args[3], args[4]
  local state = read_state(s)
  if version < state.fence then return {'STALE'} end
  local t = redis.call('HGET', b, pid)
  local unseated = tally and redis.call('HDEL', tally, 'j:' .. pid) == 1
  if not t then
    if unseated then return {'OK'} end
    return {'ABSENT'}
  end
  local now = next_stamp(s, state, version)
  local old_m = t .. pid
  local old_s = redis.call('ZSCORE', z, old_m)
  redis.call('ZREM', z, old_m)
  redis.call('HDEL', b, pid)
  redis.call('HDEL', m, pid)
  if old_s then publish(channel, 'x', label, pid, old_s, old_m, false, false, now) end
  return {'OK'}
end

-- A seat on a board that counts its players board-wide (one slot per board and period).
-- functions.Join -> functions.JoinReply
-- KEYS: seats (hash: player -> 1); ARGV: player, max players (0: no cap), ttl_s
-- -> {'JOINED'|'ALREADY'|'FULL', players holding a seat}
local function join(keys, args)
  local seats, pid, cap, ttl = keys[1], args[1], tonumber(args[2]), tonumber(args[3])
  local held = redis.call('HLEN', seats)
  if redis.call('HEXISTS', seats, pid) == 1 then
    -- Written again, so that the caller's WAIT also covers the first join's write.
    redis.call('HSET', seats, pid, 1)
    return {'ALREADY', held}
  end
  if cap > 0 and held >= cap then return {'FULL', held} end
  redis.call('HSET', seats, pid, 1)
  if ttl > 0 then redis.call('EXPIRE', seats, ttl, 'NX') end
  return {'JOINED', held + 1}
end

-- The seat's copy in the player's own sub-board, which the writing function checks.
-- Written after `join` took the seat; idempotent, so a retried join repairs a lost one.
-- functions.MarkSeat -> functions.MarkSeatReply
-- KEYS: state, tally; ARGV: version, player, ttl_s -> {'OK'} | {'STALE'}
local function mark_seat(keys, args)
  local s, tally = keys[1], keys[2]
  if not fence_ok(s, tonumber(args[1])) then return {'STALE'} end
  redis.call('HSET', tally, 'j:' .. args[2], 1)
  local ttl = tonumber(args[3])
  if ttl > 0 then redis.call('EXPIRE', tally, ttl, 'NX') end
  return {'OK'}
end

-- The stamp of a sub-board's last write (its state key's `t`), '0' before any: counts
-- made in one call reflect exactly the writes up to it (see the push feed's anchors).
local function last_stamp(s)
  return redis.call('HGET', s, 't') or '0'
end

-- functions.Positions -> functions.PositionsReply
-- KEYS: zset, meta, state
-- ARGV: with_meta, n, (sibling zset, sibling state) * n, (player, its bucket key)...
-- -> {stamp, {stamp of each sibling (false if this node refused it)}, then per player
--     false when absent, else {score, member, own rank, meta, {better in each sibling}}}
local function positions(keys, args)
  local z, m = keys[1], keys[2]
  local with_meta, siblings = args[1] == '1', tonumber(args[2])
  local stamps, counted = {}, {}
  for j = 1, siblings do
    local ok, t = pcall(last_stamp, args[2 + 2 * j])
    stamps[j] = ok and t
    counted[j] = ok
  end
  local out = {last_stamp(keys[3]), stamps}
  for i = 3 + 2 * siblings, #args, 2 do
    local pid = args[i]
    local t = redis.call('HGET', args[i + 1], pid)
    local member, found = false, false
    if t then
      member = t .. pid
      found = redis.call('ZRANK', z, member, 'WITHSCORE')
    end
    if found then
      local score, better = found[2], {}
      for j = 1, siblings do
        better[j] = counted[j] and count_sibling(args[1 + 2 * j], score, member)
      end
      local meta = with_meta and redis.call('HGET', m, pid) or false
      out[#out + 1] = {score, member, found[1], meta, better}
    else
      out[#out + 1] = false
    end
  end
  return out
end

-- Counting many positions in a small sub-board: one read of the whole set and a merge
-- with the sorted positions costs less than a search per position (two or more calls
-- each) when the set holds at most WALK_ENTRIES entries per position asked about.
local WALK_MIN_POSITIONS = 16
local WALK_ENTRIES = 16

local function count_by_walk(z, args)
  local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
  local scores, members, size = {}, {}, #entries / 2
  for e = 1, size do
    members[e], scores[e] = entries[2 * e - 1], tonumber(entries[2 * e])
  end
  local wanted, order = {}, {}
  for i = 1, #args / 2 do
    wanted[i], order[i] = tonumber(args[2 * i - 1]), i
  end
  table.sort(order, function(a, b)
    if wanted[a] ~= wanted[b] then return wanted[a] < wanted[b] end
    return member_before(args[2 * a], args[2 * b])
  end)
  local out, better = {}, 0
  for _, i in ipairs(order) do
    local s, m = wanted[i], args[2 * i]
    while better < size do
      local es = scores[better + 1]
      if es < s or (es == s and member_before(members[better + 1], m)) then
        better = better + 1
      else
        break
      end
    end
    out[i] = better
  end
  return out
end

-- functions.Count -> functions.Counts
-- KEYS: zset, state; ARGV: score, member, score, member...
-- -> {stamp, entries better than each}
local function count(keys, args)
  local z, positions = keys[1], #args / 2
  local out
  if positions >= WALK_MIN_POSITIONS and redis.call('ZCARD', z) <= WALK_ENTRIES * positions then
    out = count_by_walk(z, args)
  else
    out = {}
    for i = 1, #args, 2 do out[#out + 1] = count_better(z, args[i], args[i + 1]) end
  end
  table.insert(out, 1, last_stamp(keys[2]))
  return out
end

-- functions.PageRead -> functions.PageSlice
-- KEYS: zset, meta, state; ARGV: with_meta, limit, known[, after score, after member]
-- A sub-board's version is its last write's stamp and its size: every write that changes
-- the sorted set or the metadata takes a new stamp, and an expired period has size 0.
-- -> {'SAME'} if the version is `known` (the caller holds this very reply), else
--    {version, entries at or before the cursor, size, (score, member, meta) * <= limit}
local function page(keys, args)
  local z, m, s = keys[1], keys[2], keys[3]
  local with_meta, limit, start = args[1] == '1', tonumber(args[2]), 0
  local size = redis.call('ZCARD', z)
  local version = (redis.call('HGET', s, 't') or '0') .. ' ' .. size
  if version == args[3] then return {'SAME'} end
  if args[4] then
    start = count_better(z, args[4], args[5])
    if redis.call('ZRANGE', z, start, start)[1] == args[5] then start = start + 1 end
  end
  local out = {version, start, size}
  append_entries(out, z, m, start, start + limit - 1, with_meta)
  return out
end

-- functions.Window -> functions.Slice
-- KEYS: zset, bucket, meta; ARGV: with_meta, before, after, 'pid', player
--                                 or: with_meta, before, after, 'pos', score, member
-- -> {score, member, meta, entries better, entries before, (score, member, meta)...}
local function window(keys, args)
  local z, b, m = keys[1], keys[2], keys[3]
  local with_meta, before, after = args[1] == '1', tonumber(args[2]), tonumber(args[3])
  local s, member, own_meta, at, skip = false, false, false, 0, 0
  if args[4] == 'pid' then
    local t = redis.call('HGET', b, args[5])
    local found = false
    if t then
      member = t .. args[5]
      found = redis.call('ZRANK', z, member, 'WITHSCORE')
    end
    if not found then return {false} end
    s, at, skip = found[2], found[1], 1
    own_meta = with_meta and redis.call('HGET', m, args[5]) or false
  else
    s, member = args[5], args[6]
    at = count_better(z, s, member)
  end
  local out = {s, member, own_meta, at, 0}
  append_entries(out, z, m, math.max(0, at - before), at - 1, with_meta)
  out[5] = (#out - 5) / 3
  append_entries(out, z, m, at + skip, at + skip + after - 1, with_meta)
  return out
end

local function expire_period(z, m, prefix, buckets, ttl)
  for _, key in ipairs({z, m}) do redis.call('EXPIRE', key, ttl, 'NX') end
  for k = 0, buckets - 1 do redis.call('EXPIRE', prefix .. k, ttl, 'NX') end
end

local function unlink_period(z, m, prefix, buckets)
  redis.call('UNLINK', z, m)
  for k = 0, buckets - 1 do redis.call('UNLINK', prefix .. k) end
end

-- functions.Archive -> functions.Applied
-- KEYS: state, zset, meta, tally (of the archived period)
-- ARGV: version, ttl_s, buckets, bucket prefix, channel, new period -> 1, 0 if fenced
local function archive(keys, args)
  local s, z, m = keys[1], keys[2], keys[3]
  local version, state = tonumber(args[1]), read_state(s)
  if version < state.fence then return 0 end
  local now = next_stamp(s, state, version)
  expire_period(z, m, args[4], tonumber(args[3]), tonumber(args[2]))
  if keys[4] then redis.call('EXPIRE', keys[4], tonumber(args[2]), 'NX') end
  publish(args[5], 'r', args[6], '-', false, false, false, false, now)
  return 1
end

-- functions.Drop -> functions.Applied
-- KEYS: state, zset, meta, tally (of the live period)
-- ARGV: version, buckets, prefix, channel, period -> 1, 0 if fenced
local function drop(keys, args)
  local s, z, m = keys[1], keys[2], keys[3]
  local version, state = tonumber(args[1]), read_state(s)
  if version < state.fence then return 0 end
  local now = next_stamp(s, state, version)
  unlink_period(z, m, args[3], tonumber(args[2]))
  if keys[4] then redis.call('UNLINK', keys[4]) end
  publish(args[4], 'd', args[5], '-', false, false, false, false, now)
  return 1
end

-- Registry. functions.BoardCreate -> functions.BoardCreated
-- KEYS: board, names, seq; ARGV: name, field, value, ... -> gen, false if it exists
local function board_create(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then return false end
  local v = redis.call('INCR', keys[3])
  local fields = {'gen', v, 'version', v, 'reset_period', '', 'reset_count', 0}
  for i = 2, #args do fields[#fields + 1] = args[i] end
  redis.call('HSET', keys[1], unpack(fields))
  redis.call('SADD', keys[2], args[1])
  return v
end

-- Period ends (docs/leaderboards.md "Period ends"). A period's end is claimed once, in
-- `ended` (a board's hash: "<gen>:<label>" -> ended_at; "<gen>:<id>!<reason>" marks the
-- rollover or window end of a period id as claimed), and in the same call its job is
-- put in the outbox (hash: "<board>:<gen>:<label>" -> job JSON) that workers lease.
local function claim_end(ended, outbox, board, gen, label, ended_at, job)
  if redis.call('HSETNX', ended, gen .. ':' .. label, ended_at) == 0 then return 0 end
  redis.call('HSET', outbox, board .. ':' .. gen .. ':' .. label, job)
  return 1
end

-- functions.BoardReset -> functions.BoardResetReply
-- KEYS: board, seq, ended, outbox; ARGV: period id now, name, now
-- -> {version, old reset period, old reset count}; the archived label's end is claimed.
local function board_reset(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return false end
  local old = redis.call('HMGET', keys[1], 'reset_period', 'reset_count', 'gen',
    'on_period_end', 'on_period_end_top')
  local v = redis.call('INCR', keys[2])
  local resets = 1
  local archived = args[1]
  if old[1] == args[1] then
    resets = tonumber(old[2]) + 1
    if tonumber(old[2]) > 0 then archived = args[1] .. '.' .. old[2] end
  end
  redis.call('HSET', keys[1], 'version', v, 'reset_period', args[1], 'reset_count', resets)
  if keys[3] then
    local job = {board = args[2], gen = tonumber(old[3]), period = archived,
      ended_at = tonumber(args[3]), reason = 'reset', url = old[4] or nil,
      top = tonumber(old[5] or '100'), pushed = false, attempts = 0, next_at = 0,
      lease = '', lease_until = 0}
    claim_end(keys[3], keys[4], args[2], old[3], archived, args[3], cjson.encode(job))
  end
  return {v, old[1], old[2]}
end

-- functions.PeriodClaim -> functions.Applied
-- KEYS: ended, outbox; ARGV: board, gen, period id, ended_at, job JSON, reason -> 1
-- claimed, 0 not. Claims the end of a period id once per reason (`rollover`, `end_at`):
-- the label that ended is the first one of the period that no reset ended (`<id>` if no
-- reset ended it, else the first free `<id>.<n>`). A window's end is not claimed when a
-- period of the board already ended at or after it: a reset after `end_at` ended the
-- label the window closed on.
local function period_claim(keys, args)
  local gen, base, at = args[2], args[3], tonumber(args[4])
  if args[6] == 'end_at' then
    local ended = redis.call('HGETALL', keys[1])
    local prefix = gen .. ':'
    for i = 1, #ended, 2 do
      if string.sub(ended[i], 1, #prefix) == prefix and tonumber(ended[i + 1]) >= at then
        return 0
      end
    end
  end
  if redis.call('HSETNX', keys[1], gen .. ':' .. base .. '!' .. args[6], args[4]) == 0 then
    return 0
  end
  local label = base
  if redis.call('HEXISTS', keys[1], gen .. ':' .. base) == 1 then
    local n = 1
    while redis.call('HEXISTS', keys[1], gen .. ':' .. base .. '.' .. n) == 1 do n = n + 1 end
    label = base .. '.' .. n
  end
  local job = cjson.decode(args[5])
  job.period = label
  return claim_end(keys[1], keys[2], args[1], gen, label, args[4], cjson.encode(job))
end

-- functions.PeriodTake -> functions.PeriodTaken
-- KEYS: outbox; ARGV: now, lease_s, worker -> {id, job JSON} of a job due and not
-- leased (now leased to `worker`), or false.
local function period_take(keys, args)
  local now = tonumber(args[1])
  local all = redis.call('HGETALL', keys[1])
  for i = 1, #all, 2 do
    local job = cjson.decode(all[i + 1])
    if (job.lease_until or 0) <= now and (job.next_at or 0) <= now then
      job.lease = args[3]
      job.lease_until = now + tonumber(args[2])
      local raw = cjson.encode(job)
      redis.call('HSET', keys[1], all[i], raw)
      return {all[i], raw}
    end
  end
  return false
end

-- functions.PeriodSave -> functions.Applied
-- KEYS: outbox; ARGV: id, worker, job JSON ('' = done: delete it) -> 1, or 0 when the
-- job is gone or leased to another worker (this one's lease ran out).
local function period_save(keys, args)
  local raw = redis.call('HGET', keys[1], args[1])
  if not raw then return 0 end
  if cjson.decode(raw).lease ~= args[2] then return 0 end
  if args[3] == '' then
    redis.call('HDEL', keys[1], args[1])
  else
    redis.call('HSET', keys[1], args[1], args[3])
  end
  return 1
end

-- functions.BoardDelete -> functions.BoardDeleted
-- KEYS: board, names, seq, ended; ARGV: name -> {version, fields of the deleted board}
local function board_delete(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return false end
  local v = redis.call('INCR', keys[3])
  local fields = redis.call('HGETALL', keys[1])
  redis.call('DEL', keys[1])
  redis.call('SREM', keys[2], args[1])
  -- The marks of its ended periods go too (a board made again has another gen).
  if keys[4] then redis.call('DEL', keys[4]) end
  return {v, fields}
end

-- Several read calls in one, for sub-boards that share a primary (one call per node);
-- calls.py folds the reads (FCALL_RO) of functions.py into it.
-- ARGV: (function, #keys, keys..., #args, args...)... -> the replies in order. A key
-- whose slot is not on this node fails the whole call; the caller then splits it.
local READERS = {lb_positions = positions, lb_count = count, lb_page = page, lb_window = window}

local function multi(_, args)
  local out, i = {}, 1
  while i <= #args do
    local fn, nkeys = READERS[args[i]], tonumber(args[i + 1])
    local call_keys, call_args = {}, {}
    for j = 1, nkeys do call_keys[j] = args[i + 1 + j] end
    local nargs = tonumber(args[i + 2 + nkeys])
    for j = 1, nargs do call_args[j] = args[i + 2 + nkeys + j] end
    out[#out + 1] = fn(call_keys, call_args)
    i = i + 3 + nkeys + nargs
  end
  return out
end

local READ = {'no-writes'}
-- Siblings: sub-boards of other slots that the caller believes this node serves.
local WITH_SIBLINGS = {'allow-cross-slot-keys'}
local READ_WITH_SIBLINGS = {'no-writes', 'allow-cross-slot-keys'}
redis.register_function{function_name = 'lb_submit', callback = submit, flags = WITH_SIBLINGS}
redis.register_function{function_name = 'lb_remove', callback = remove}
redis.register_function{function_name = 'lb_join', callback = join}
redis.register_function{function_name = 'lb_mark_seat', callback = mark_seat}
redis.register_function{function_name = 'lb_archive', callback = archive}
redis.register_function{function_name = 'lb_drop', callback = drop}
redis.register_function{
  function_name = 'lb_positions', callback = positions, flags = READ_WITH_SIBLINGS
}
redis.register_function{function_name = 'lb_count', callback = count, flags = READ}
redis.register_function{function_name = 'lb_page', callback = page, flags = READ}
redis.register_function{function_name = 'lb_window', callback = window, flags = READ}
redis.register_function{
  function_name = 'lb_multi', callback = multi, flags = {'no-writes', 'allow-cross-slot-keys'}
}
redis.register_function{function_name = 'lb_board_create', callback = board_create}
redis.register_function{function_name = 'lb_board_reset', callback = board_reset}
redis.register_function{function_name = 'lb_board_delete', callback = board_delete}
redis.register_function{function_name = 'lb_period_claim', callback = period_claim}
redis.register_function{function_name = 'lb_period_take', callback = period_take}
redis.register_function{function_name = 'lb_period_save', callback = period_save}
