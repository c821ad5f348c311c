package cluster

import (
	"encoding/hex"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/session"
)

// What Redis holds, under Config.Prefix (default "wsgate:"); <tag> is a node's tag in
// 12 hex digits, <user> a user id as given. docs/cluster.md has the same table.
//
//	node:<tag>        hash {id, connections, users}: the node's lease, expires after Config.Lease
//	nodes             sorted set: every node's tag, scored by its lease deadline (Unix ms)
//	node:<tag>:users  set: users for whom the node holds a count (cleanup after a crash)
//	user:<user>       hash {<tag>: connections}: the user's connections per node
//	broadcast         channel: broadcasts, every node subscribes
//	to:<tag>          channel: sends, kicks and subscription changes for one node's connections
//	ch:<channel>      channel: publications to a wsgate channel; the nodes with local
//	                  subscribers of it subscribe
//	history:{<channel>}, history:{<channel>}:meta
//	                  stream and hash: a history channel's publications and
//	                  position (historyscripts.go)
//
// The scripts build the keys of other nodes from the prefix, so they need one Redis
// primary (standalone or behind Sentinel), not Redis Cluster.

// keys are the Redis names of one node; immutable.
type keys struct {
	prefix    string
	tag       string
	lease     string
	nodes     string
	nodeUsers string
	broadcast string
	inbox     string
	// channelPrefix starts the Redis channel of every wsgate channel.
	channelPrefix string
}

func newKeys(prefix string, tag session.NodeTag) keys {
	text := hex.EncodeToString(tag[:])
	return keys{
		prefix:        prefix,
		tag:           text,
		lease:         prefix + "node:" + text,
		nodes:         prefix + "nodes",
		nodeUsers:     prefix + "node:" + text + ":users",
		broadcast:     prefix + "broadcast",
		inbox:         inboxChannel(prefix, tag),
		channelPrefix: prefix + "ch:",
	}
}

// channel returns the Redis channel of a wsgate channel.
func (k keys) channel(name string) string { return k.channelPrefix + name }

// channels returns the Redis channels of wsgate channels.
func (k keys) channels(names []string) []string {
	redisChannels := make([]string, len(names))
	for index, name := range names {
		redisChannels[index] = k.channel(name)
	}
	return redisChannels
}

// history returns the keys of channel's stream, as historyAppendScript and
// historyReadScript take them: the meta hash, then the stream. The channel's name
// is their hash tag, so both are in one Redis Cluster slot (a name containing "}"
// cuts the tag short, identically in both).
func (k keys) history(channel string) []string {
	stream := k.prefix + "history:{" + channel + "}"
	return []string{stream + ":meta", stream}
}

// user returns the key of userID's per-node counts.
func (k keys) user(userID string) string { return k.prefix + "user:" + userID }

// inboxChannel returns the channel of the node with tag.
func inboxChannel(prefix string, tag session.NodeTag) string {
	return prefix + "to:" + hex.EncodeToString(tag[:])
}

// redisNow is Lua that sets now to Redis's clock in Unix milliseconds, so that lease
// deadlines do not depend on the nodes' clocks.
const redisNow = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`

// acquireScript counts one more connection of a user on this node if the user's
// connections on live nodes are fewer than the limit (0: no limit). Fields of nodes
// whose lease expired are deleted on the way: a crashed node stops counting when its
// lease ends. Returns 1 when counted, 0 when refused.
//
// KEYS: user hash, this node's user set. ARGV: tag, limit, key prefix, user id.
var acquireScript = rueidis.NewLuaScript(`
local limit = tonumber(ARGV[2])
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for index = 1, #fields, 2 do
  local node = fields[index]
  if node == ARGV[1] or redis.call('EXISTS', ARGV[3] .. 'node:' .. node) == 1 then
    total = total + tonumber(fields[index + 1])
  else
    redis.call('HDEL', KEYS[1], node)
  end
end
if limit > 0 and total >= limit then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[4])
return 1
`)

// releaseScript takes count connections of a user off this node's field, deleting
// the field when none are left. Returns what is left.
//
// KEYS: user hash, this node's user set. ARGV: tag, count, user id.
var releaseScript = rueidis.NewLuaScript(`
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[3])
end
return left
`)

// rewriteScript sets this node's field of a user to an absolute count (0 deletes
// it), after Redis may have missed changes.
//
// KEYS: user hash, this node's user set. ARGV: tag, count, user id.
var rewriteScript = rueidis.NewLuaScript(`
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[3])
end
return 1
`)

// renewScript writes this node's lease with its totals and its deadline in the node
// index. Returns 1 if the lease still existed, 0 if it had to be created (first
// start, expired, or Redis lost its data): the node's counts must then be rewritten.
//
// KEYS: lease, nodes index. ARGV: tag, lease in ms, node id, connections, users.
var renewScript = rueidis.NewLuaScript(redisNow + `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[3], 'connections', ARGV[4], 'users', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return existed
`)

// sweepScript cleans up after one node whose lease expired: it deletes up to a batch
// of that node's user fields, and the node itself from the index once none are left.
// Any live node runs it; running it twice does no harm. Returns the fields deleted.
//
// KEYS: nodes index. ARGV: key prefix, batch size.
var sweepScript = rueidis.NewLuaScript(redisNow + `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #dead == 0 then
  return 0
end
local node = dead[1]
if redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then
  return 0
end
local users = redis.call('SPOP', ARGV[1] .. 'node:' .. node .. ':users', tonumber(ARGV[2]))
for _, user in ipairs(users) do
  redis.call('HDEL', ARGV[1] .. 'user:' .. user, node)
end
if redis.call('EXISTS', ARGV[1] .. 'node:' .. node .. ':users') == 0 then
  redis.call('ZREM', KEYS[1], node)
end
return #users
`)

// leaveScript is a clean exit: it deletes up to a batch of this node's user fields,
// and its lease and index entry once none are left. Returns the fields deleted; 0
// means done.
//
// KEYS: lease, nodes index, this node's user set. ARGV: tag, key prefix, batch size.
var leaveScript = rueidis.NewLuaScript(`
local users = redis.call('SPOP', KEYS[3], tonumber(ARGV[3]))
for _, user in ipairs(users) do
  redis.call('HDEL', ARGV[2] .. 'user:' .. user, ARGV[1])
end
if #users == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return #users
`)

// routeScript publishes an envelope to every other live node that holds connections
// of a user: one round trip whatever the number of nodes, and traffic only to the
// nodes concerned. Returns how many nodes received it.
//
// KEYS: user hash. ARGV: tag, key prefix, envelope.
var routeScript = rueidis.NewLuaScript(`
local fields = redis.call('HGETALL', KEYS[1])
local reached = 0
for index = 1, #fields, 2 do
  local node = fields[index]
  if node ~= ARGV[1] and tonumber(fields[index + 1]) > 0 and
      redis.call('EXISTS', ARGV[2] .. 'node:' .. node) == 1 then
    reached = reached + redis.call('PUBLISH', ARGV[2] .. 'to:' .. node, ARGV[3])
  end
end
return reached
`)

// totalsScript sums the leases of the live nodes other than this one. Returns
// {nodes, connections, users}.
//
// KEYS: nodes index. ARGV: key prefix, tag.
var totalsScript = rueidis.NewLuaScriptReadOnly(`
local nodes, connections, users = 0, 0, 0
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if node ~= ARGV[2] then
    local lease = redis.call('HMGET', ARGV[1] .. 'node:' .. node, 'connections', 'users')
    if lease[1] then
      nodes = nodes + 1
      connections = connections + tonumber(lease[1])
      users = users + tonumber(lease[2])
    end
  end
end
return {nodes, connections, users}
`)
