#!lua name=parties
-- Party functions. Two kinds of slot (domain/parties/store.py names the keys):
-- * a party's slot `party:{<party id>}`: one string key holding the party as JSON,
--   {"m": [member ids, longest-standing first], "c": {member: claim},
--    "i": {invitee: [until_ms, inviter]}}. The leader is always m[1]: a new party's only
--   member leads it, and a leaving leader's place goes to the next in line.
-- * a player's slot `party:{pl.<player id>}`: the player's claim, '<party id> <ms>', the
--   lock that keeps them in one party at most; and `...:inv`, the set of parties that
--   invited them lately (so that erasing a player finds their invites).
-- A member always holds the claim the party records for them. A claim the party does not
-- record is a join in progress or left over by a crash: it counts only while young, and
-- a party takes a member only while their claim is younger than the claim limit.
-- Party functions reply {status, party JSON or '', claim of a removed member or ''}.
-- Each function's header names the request and reply of domain/parties/functions.py
-- that mirror its key, arguments and answer: change both together.

local function load(key)
  local raw = server.call('GET', key)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function reply(status, party, claim)
  return {status, party and cjson.encode(party) or '', claim or ''}
end

-- Writes the party and answers 'ok' with it (and the claim of a removed member).
local function commit(key, party, claim)
  server.call('SET', key, cjson.encode(party))
  return reply('ok', party, claim)
end

local function position(list, id)
  for i, v in ipairs(list) do
    if v == id then return i end
  end
  return nil
end

local function count(map)
  local n = 0
  for _ in pairs(map) do n = n + 1 end
  return n
end

-- Invites past their end are dropped whenever the party is read for a change.
local function prune(party, now)
  for id, invite in pairs(party.i) do
    if tonumber(invite[1]) <= now then party.i[id] = nil end
  end
end

local function claim_ms(claim)
  return tonumber(string.match(claim, ' (%d+)$') or '0')
end

-- functions.Create -> functions.PartyChange
-- ARGV: player, claim, now_ms, claim_limit_ms
-- Party ids are random per create, so an existing party led by this claim is this
-- create's own earlier attempt: it answers ok again and writes, so that the caller's
-- WAIT also covers that attempt.
local function create(keys, argv)
  local party = load(keys[1])
  if party then
    if party.m[1] == argv[1] and party.c[argv[1]] == argv[2] then
      return commit(keys[1], party)
    end
    return reply('exists')
  end
  if tonumber(argv[3]) - claim_ms(argv[2]) > tonumber(argv[4]) then return reply('stale') end
  party = {m = {argv[1]}, c = {[argv[1]] = argv[2]}, i = {}}
  return commit(keys[1], party)
end

-- functions.SendInvite -> functions.PartyChange
-- ARGV: leader, invitee, now_ms, until_ms, max_invites
-- Inviting again renews.
local function invite(keys, argv)
  local party = load(keys[1])
  if not party then return reply('missing') end
  if not position(party.m, argv[1]) then return reply('not_member') end
  if party.m[1] ~= argv[1] then return reply('not_leader') end
  if position(party.m, argv[2]) then return reply('member') end
  prune(party, tonumber(argv[3]))
  if not party.i[argv[2]] and count(party.i) >= tonumber(argv[5]) then
    return reply('too_many_invites')
  end
  party.i[argv[2]] = {tonumber(argv[4]), argv[1]}
  return commit(keys[1], party)
end

-- functions.Accept -> functions.PartyChange
-- ARGV: player, claim, now_ms, claim_limit_ms, max_members
-- A member whose recorded claim is this one is this accept's own earlier attempt.
local function accept(keys, argv)
  local party = load(keys[1])
  if not party then return reply('missing') end
  local player, claim, now = argv[1], argv[2], tonumber(argv[3])
  if position(party.m, player) then
    if party.c[player] == claim then
      return commit(keys[1], party)
    end
    return reply('member')
  end
  prune(party, now)
  if not party.i[player] then return reply('not_invited') end
  if #party.m >= tonumber(argv[5]) then return reply('full') end
  if now - claim_ms(claim) > tonumber(argv[4]) then return reply('stale') end
  party.m[#party.m + 1] = player
  party.c[player] = claim
  party.i[player] = nil
  return commit(keys[1], party)
end

-- functions.Decline -> functions.PartyChange
-- ARGV: player, now_ms
-- Also how an erased player's invite is dropped.
local function decline(keys, argv)
  local party = load(keys[1])
  if not party then return reply('missing') end
  prune(party, tonumber(argv[2]))
  if not party.i[argv[1]] then return reply('not_invited') end
  party.i[argv[1]] = nil
  return commit(keys[1], party)
end

-- Takes `player` out; the last member out deletes the party.
local function remove(key, party, player)
  table.remove(party.m, position(party.m, player))
  local claim = party.c[player]
  party.c[player] = nil
  if #party.m == 0 then
    server.call('DEL', key)
    return reply('disbanded', nil, claim)
  end
  return commit(key, party, claim)
end

-- functions.Leave -> functions.PartyChange
-- ARGV: player, now_ms
-- A leaving leader's place goes to the next in line.
local function leave(keys, argv)
  local party = load(keys[1])
  if not party then return reply('missing') end
  if not position(party.m, argv[1]) then return reply('not_member') end
  prune(party, tonumber(argv[2]))
  return remove(keys[1], party, argv[1])
end

-- functions.Kick -> functions.PartyChange
-- ARGV: leader, player, now_ms
local function kick(keys, argv)
  local party = load(keys[1])
  if not party then return reply('missing') end
  if not position(party.m, argv[1]) then return reply('not_member') end
  if party.m[1] ~= argv[1] then return reply('not_leader') end
  if argv[1] == argv[2] then return reply('self') end
  if not position(party.m, argv[2]) then return reply('not_found') end
  prune(party, tonumber(argv[3]))
  return remove(keys[1], party, argv[2])
end

-- functions.Claim -> functions.Held
-- KEYS: the player's claim; ARGV: claim, replaceable -> '' or the claim that holds the
-- player. Takes it if free, ours or `replaceable` (a claim the caller found no longer
-- holds the player, or '').
local function claim(keys, argv)
  local cur = server.call('GET', keys[1])
  if cur and cur ~= argv[1] and cur ~= argv[2] then return cur end
  server.call('SET', keys[1], argv[1])
  return ''
end

-- functions.Release -> functions.Released
-- KEYS: the player's claim; ARGV: claim -> 1 if it was that claim and is gone.
local function release(keys, argv)
  if server.call('GET', keys[1]) == argv[1] then return server.call('DEL', keys[1]) end
  return 0
end

-- functions.NoteInvite -> functions.Noted
-- KEYS: the player's invite set; ARGV: party_id, ttl_ms
-- Every invite lasts as long, so the set lives as long as its latest invite.
local function note_invite(keys, argv)
  server.call('SADD', keys[1], argv[1])
  server.call('PEXPIRE', keys[1], argv[2])
  return 1
end

server.register_function('party_create', create)
server.register_function('party_invite', invite)
server.register_function('party_accept', accept)
server.register_function('party_decline', decline)
server.register_function('party_leave', leave)
server.register_function('party_kick', kick)
server.register_function('party_claim', claim)
server.register_function('party_release', release)
server.register_function('party_note_invite', note_invite)
