package cluster

import "github.com/redis/rueidis"

// Channel presence in Redis (presence.go), under Config.Prefix. Every key a
// presence script touches belongs to one channel and carries the channel's name as
// its hash tag, so each script runs in one Redis Cluster slot; <incarnation> is a
// node's presence identity (its tag, a dot and a generation, see presenceState):
//
//	presence:{<channel>}:node:<incarnation>  hash {<user>: connections}: one node's
//	                                         contribution to the channel
//	presence:{<channel>}:users               hash {<user>: connections}: the users'
//	                                         totals over the contributions
//	presence:{<channel>}:order               sorted set, every score 0: the users
//	                                         present, for paging in name order
//	presence:{<channel>}:stats               hash {users, connections}: the channel's
//	                                         totals, maintained on change
//	presence:nodes                           sorted set: every incarnation holding
//	                                         presence, scored by its deadline (Unix ms,
//	                                         Redis's clock), renewed every Lease/3
//	presence:node:<incarnation>:channels     set: the channels where the incarnation
//	                                         has a contribution (cleanup after a crash)
//
// The scripts never read another slot: which incarnations are dead is decided
// outside them (presenceDeadScript on the index), and a channel's contributions of
// a dead incarnation are then removed channel by channel (presenceSweepScript).

// presenceChannelKeys returns the keys of channel's presence as presenceApplyScript
// and presenceSweepScript take them: incarnation's contribution, the users'
// totals, the order, the stats.
func (k keys) presenceChannelKeys(channel, incarnation string) []string {
	base := k.prefix + "presence:{" + channel + "}"
	return []string{base + ":node:" + incarnation, base + ":users", base + ":order", base + ":stats"}
}

// presenceQueryKeys returns the keys presencePageScript takes: the users' totals,
// the order, the stats.
func (k keys) presenceQueryKeys(channel string) []string {
	base := k.prefix + "presence:{" + channel + "}"
	return []string{base + ":users", base + ":order", base + ":stats"}
}

// presenceStats returns the key of channel's stats hash.
func (k keys) presenceStats(channel string) string {
	return k.prefix + "presence:{" + channel + "}:stats"
}

// presenceIndex returns the key of the incarnations' index.
func (k keys) presenceIndex() string { return k.prefix + "presence:nodes" }

// presenceChannels returns the key of incarnation's channel set.
func (k keys) presenceChannels(incarnation string) string {
	return k.prefix + "presence:node:" + incarnation + ":channels"
}

// presenceSet is Lua defining set(user, count): it sets the contribution of the
// script's incarnation for user to count (0 deletes it), moves the user's total by
// the difference and records a join (total from 0 to more) or a leave (total to
// 0) in joined or left, the moves of the channel's totals in users and
// connections, and the contributions it changed in changed. Three or four Redis
// calls per changed user. A total that would fall below 0 (Redis lost part of
// the keys) is taken as 0.
//
// KEYS: contribution, totals, order, stats.
const presenceSet = `local joined, left = {}, {}
local users, connections, changed = 0, 0, 0
local function set(user, count)
  local old = tonumber(redis.call('HGET', KEYS[1], user) or '0')
  if count == old then
    return
  end
  changed = changed + 1
  if count > 0 then
    redis.call('HSET', KEYS[1], user, count)
  else
    redis.call('HDEL', KEYS[1], user)
  end
  local after = redis.call('HINCRBY', KEYS[2], user, count - old)
  local before = math.max(after - count + old, 0)
  after = math.max(after, 0)
  connections = connections + after - before
  if after > 0 then
    if before == 0 then
      redis.call('ZADD', KEYS[3], 0, user)
      users = users + 1
      joined[#joined + 1] = user
    end
  else
    redis.call('HDEL', KEYS[2], user)
    if before > 0 then
      redis.call('ZREM', KEYS[3], user)
      users = users - 1
      left[#left + 1] = user
    end
  end
end
`

// presenceReturn is Lua that writes the channel's totals moved by set and returns
// {contribution empty (1) or not (0), contributions changed, number of joins,
// joined users..., left users...}. The stats hash goes with the channel's last user.
const presenceReturn = `if users ~= 0 or connections ~= 0 then
  local total = redis.call('HINCRBY', KEYS[4], 'users', users)
  redis.call('HINCRBY', KEYS[4], 'connections', connections)
  if total <= 0 then
    redis.call('DEL', KEYS[4])
  end
end
local answer = {redis.call('EXISTS', KEYS[1]) == 0 and 1 or 0, changed, #joined}
for _, user in ipairs(joined) do
  answer[#answer + 1] = user
end
for _, user in ipairs(left) do
  answer[#answer + 1] = user
end
return answer
`

// presenceApplyScript sets this node's contributions of several users to one
// channel to absolute counts (Change.Connections), so that applying a change
// again, after a failed call or a lost reply, changes nothing. Returns what
// presenceReturn returns.
//
// KEYS: contribution, totals, order, stats. ARGV: user, count, user, count, ...
var presenceApplyScript = rueidis.NewLuaScript(presenceSet + `
for index = 1, #ARGV, 2 do
  set(ARGV[index], tonumber(ARGV[index + 1]))
end
` + presenceReturn)

// presenceSweepScript removes up to a batch of a dead (or leaving) incarnation's
// contributions to one channel, as if each of its users had left there. Running
// it twice does no harm. Returns what presenceReturn returns.
//
// KEYS: the incarnation's contribution, totals, order, stats. ARGV: batch size.
var presenceSweepScript = rueidis.NewLuaScript(presenceSet + `
for _, user in ipairs(redis.call('HRANDFIELD', KEYS[1], tonumber(ARGV[1]))) do
  set(user, 0)
end
` + presenceReturn)

// presencePageScript reads one page of a channel's presence: the stats and up to
// a limit of users from a lexicographic bound on, with their totals. It returns
// Redis's answers as they are, without a loop in Lua (which cost most of the
// script's time): {{users, connections}, {user, ...}, {count, ...}}, a count nil
// for a user whose total is missing.
//
// KEYS: totals, order, stats. ARGV: ZRANGE BYLEX start ("-" or "(<user>"), limit.
var presencePageScript = rueidis.NewLuaScriptReadOnly(`
local members = redis.call('ZRANGE', KEYS[2], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
local counts = {}
if #members > 0 then
  counts = redis.call('HMGET', KEYS[1], unpack(members))
end
return {redis.call('HMGET', KEYS[3], 'users', 'connections'), members, counts}
`)

// presenceRenewScript extends a live incarnation's deadline in the index to now +
// the lease. An incarnation whose deadline passed (other nodes may be sweeping it)
// or that the index lost is not brought back: the script returns 0 and the node
// starts a new incarnation. Returns 1 when renewed.
//
// KEYS: index. ARGV: incarnation, lease in ms.
var presenceRenewScript = rueidis.NewLuaScript(redisNow + `
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline or tonumber(deadline) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
`)

// presenceRegisterScript enters a new incarnation in the index with a deadline of
// now + the lease. Returns 1.
//
// KEYS: index. ARGV: incarnation, lease in ms.
var presenceRegisterScript = rueidis.NewLuaScript(redisNow + `
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
`)

// presenceDeadScript returns up to a number of incarnations whose deadline passed.
//
// KEYS: index. ARGV: how many.
var presenceDeadScript = rueidis.NewLuaScriptReadOnly(redisNow + `
return redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
`)
