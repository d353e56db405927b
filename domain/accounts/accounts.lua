#!lua name=accounts
-- Account functions. Two kinds of key, each its own slot:
--   credential `acct:cred:{<digest>}`: hash {p = player id, at = created}; the digest is a
--     keyed hash of the credential (the credential itself is never stored);
--   account `acct:{<player>}`: hash {created, name, ban, ban_until, ban_reason,
--     l:device = digest, l:provider:<name> = digest}.
-- Each function's header names the request and reply of domain/accounts/functions.py
-- that mirror its key, arguments and answer: change both together.

-- functions.CredResolve -> functions.Resolved
-- ARGV: candidate (a player id), now -> {player, created 0/1}.
-- A credential's first use registers it for the candidate (a fresh random id).
local function cred_resolve(keys, argv)
  local player = server.call('HGET', keys[1], 'p')
  if player then return {player, 0} end
  server.call('HSET', keys[1], 'p', argv[1], 'at', argv[2])
  return {argv[1], 1}
end

-- functions.CredClaim -> functions.Claimed
-- ARGV: player, now -> the owner after the call (the caller's id if it was
-- free or already theirs; another id means the credential belongs to someone else).
local function cred_claim(keys, argv)
  local owner = server.call('HGET', keys[1], 'p')
  if owner then return owner end
  server.call('HSET', keys[1], 'p', argv[1], 'at', argv[2])
  return argv[1]
end

-- functions.CredRelease -> functions.Applied
-- ARGV: player -> 1 if the credential was this player's and is gone.
local function cred_release(keys, argv)
  if server.call('HGET', keys[1], 'p') ~= argv[1] then return 0 end
  server.call('DEL', keys[1])
  return 1
end

local function ban_reply(key)
  local ban = server.call('HMGET', key, 'ban', 'ban_until', 'ban_reason')
  if ban[1] ~= '1' then return {0, '', ''} end
  return {1, ban[2] or '', ban[3] or ''}
end

-- functions.AccountEnsure -> functions.Ensured
-- ARGV: now, name ('' none), rename (0/1), link (a link field, '' none), digest
-- -> {created 0/1, banned 0/1, ban_until ('' = until lifted), ban_reason}.
-- `rename` sets the name even on an existing account.
-- Creates the account if absent; a new account takes the name and the link.
local function account_ensure(keys, argv)
  local created = 0
  if server.call('EXISTS', keys[1]) == 0 then
    server.call('HSET', keys[1], 'created', argv[1])
    created = 1
  end
  if argv[2] ~= '' and (created == 1 or argv[3] == '1') then
    server.call('HSET', keys[1], 'name', argv[2])
  end
  if argv[4] ~= '' then server.call('HSETNX', keys[1], argv[4], argv[5]) end
  local ban = ban_reply(keys[1])
  return {created, ban[1], ban[2], ban[3]}
end

-- functions.AccountSetName -> functions.Applied
-- ARGV: name -> 0 if there is no account.
local function account_set_name(keys, argv)
  if server.call('EXISTS', keys[1]) == 0 then return 0 end
  server.call('HSET', keys[1], 'name', argv[1])
  return 1
end

-- functions.AccountLink -> functions.Linked
-- ARGV: field, digest -> false if there is no account, else the digest the
-- field held before ('' if none): a replaced device credential is released by the caller.
local function account_link(keys, argv)
  if server.call('EXISTS', keys[1]) == 0 then return false end
  local old = server.call('HGET', keys[1], argv[1]) or ''
  server.call('HSET', keys[1], argv[1], argv[2])
  return old
end

-- functions.AccountUnlink -> functions.Unlinked
-- ARGV: field -> the digest unlinked; -1 not linked, -2 the last
-- credential (an account keeps at least one), -3 no account.
local function account_unlink(keys, argv)
  local all = server.call('HGETALL', keys[1])
  if #all == 0 then return -3 end
  local digest = server.call('HGET', keys[1], argv[1])
  if not digest then return -1 end
  local links = 0
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'l:' then links = links + 1 end
  end
  if links <= 1 then return -2 end
  server.call('HDEL', keys[1], argv[1])
  return digest
end

-- functions.AccountBan -> functions.Applied
-- ARGV: until ('' = until lifted), reason -> 0 if there is no account.
local function account_ban(keys, argv)
  if server.call('EXISTS', keys[1]) == 0 then return 0 end
  server.call('HSET', keys[1], 'ban', '1', 'ban_until', argv[1], 'ban_reason', argv[2])
  return 1
end

-- functions.AccountUnban -> functions.Applied
-- No ARGV -> 0 if there is no account.
local function account_unban(keys, argv)
  if server.call('EXISTS', keys[1]) == 0 then return 0 end
  server.call('HDEL', keys[1], 'ban', 'ban_until', 'ban_reason')
  return 1
end

-- functions.AccountErase -> functions.Erased
-- No ARGV -> false if there is no account, else the digests of its credentials
-- (the caller releases them); the account is gone.
local function account_erase(keys, argv)
  local all = server.call('HGETALL', keys[1])
  if #all == 0 then return false end
  local digests = {}
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'l:' then digests[#digests + 1] = all[i + 1] end
  end
  server.call('DEL', keys[1])
  return digests
end

server.register_function('cred_resolve', cred_resolve)
server.register_function('cred_claim', cred_claim)
server.register_function('cred_release', cred_release)
server.register_function('account_ensure', account_ensure)
server.register_function('account_set_name', account_set_name)
server.register_function('account_link', account_link)
server.register_function('account_unlink', account_unlink)
server.register_function('account_ban', account_ban)
server.register_function('account_unban', account_unban)
server.register_function('account_erase', account_erase)
