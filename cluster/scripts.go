package cluster

import (
	"encoding/hex"
	"strings"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/session"
)

// What Redis holds, under Config.Prefix (default "wsgate:"); <tag> is a node's tag in
// 12 hex digits, <user> a user id as given. The braces are hash tags: every key a
// script touches is one of its KEYS and all of them share a hash tag, so each script
// runs on one Redis Cluster slot, and no script builds a key name. docs/cluster.md
// has the same table.
//
//	{nodes}           sorted set: every node's tag, scored by its lease deadline (Unix
//	                  ms, Redis's clock): a node is live while its deadline is ahead
//	{nodes}:leases    hash {<tag>: "<connections> <users> <id>"}: each node's totals
//	                  as of its last renewal
//	node:<tag>:users  set: users for whom the node holds a count (cleanup after a crash)
//	user:<user>       hash {<tag>: connections}: the user's connections per node
//	broadcast         shard channel: broadcasts and channel queries, every node
//	                  subscribes
//	to:<tag>          shard channel: sends, kicks, subscription changes and query
//	                  replies for one node
//	ch:{<channel>}    shard channel: publications to a wsgate channel; the nodes with
//	                  local subscribers of it subscribe
//	history:{<channel>}, history:{<channel>}:meta
//	                  stream and hash: a history channel's publications and
//	                  position (historyscripts.go), in the slot of ch:{<channel>}
//
// Every cross-node message is an SPUBLISH (sharded pub/sub, Redis 7): under Redis
// Cluster it reaches only the shard that owns its channel's slot, not every master.

// keys are the Redis names of one node; immutable.
type keys struct {
	prefix    string
	tag       string
	nodes     string
	leases    string
	nodeUsers string
	broadcast string
	inbox     string
	// channelPrefix starts the Redis channel of every wsgate channel, which ends
	// with "}".
	channelPrefix string
}

func newKeys(prefix string, tag session.NodeTag) keys {
	text := hex.EncodeToString(tag[:])
	return keys{
		prefix:        prefix,
		tag:           text,
		nodes:         prefix + "{nodes}",
		leases:        prefix + "{nodes}:leases",
		nodeUsers:     nodeUsersKey(prefix, text),
		broadcast:     prefix + "broadcast",
		inbox:         inboxChannel(prefix, tag),
		channelPrefix: prefix + "ch:{",
	}
}

// channel returns the Redis channel of a wsgate channel. The channel's name is its
// hash tag, as in its history keys, so a history append publishes within its slot
// (a name containing "}" cuts the tag short, identically in both).
func (k keys) channel(name string) string { return k.channelPrefix + name + "}" }

// channelOf returns the wsgate channel of a Redis channel, and false for a Redis
// channel that is not one.
func (k keys) channelOf(redisChannel string) (string, bool) {
	name, ok := strings.CutPrefix(redisChannel, k.channelPrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(name, "}")
}

// history returns the keys of channel's stream, as historyAppendScript and
// historyReadScript take them: the meta hash, then the stream. The channel's name
// is their hash tag, so both are in the slot of the channel's Redis channel.
func (k keys) history(channel string) []string {
	stream := k.prefix + "history:{" + channel + "}"
	return []string{stream + ":meta", stream}
}

// user returns the key of userID's per-node counts.
func (k keys) user(userID string) string { return k.prefix + "user:" + userID }

// nodeUsersKey returns the key of the set of users a node holds counts for.
func nodeUsersKey(prefix, tag string) string { return prefix + "node:" + tag + ":users" }

// inboxChannel returns the channel of the node with tag.
func inboxChannel(prefix string, tag session.NodeTag) string {
	return prefix + "to:" + hex.EncodeToString(tag[:])
}

// inboxOf returns the channel of the node with tag in 12 hex digits.
func inboxOf(prefix, tag string) string { return prefix + "to:" + tag }

// redisNow is Lua that sets now to Redis's clock in Unix milliseconds, so that lease
// deadlines do not depend on the nodes' clocks.
const redisNow = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`

// acquireScript counts one more connection of a user on this node if the user's
// connections on nodes not known to be dead are fewer than the limit (0: no limit).
// The dead nodes are those whose lease expired as of this node's last renewal
// (renewScript returns them): a script may only touch its own slot, so it cannot
// look the leases up. Their fields are deleted on the way. Returns 1 when counted, 0
// when refused.
//
// It is sent with EVAL, not EVALSHA, in one pipelined write after the SADD of the
// user to this node's set (admission.go); Redis caches the compiled script by its
// text, so this costs only the text's few hundred bytes per connect.
//
// KEYS: user hash. ARGV: tag, limit, then the tags of the dead nodes.
const acquireScript = `
local limit = tonumber(ARGV[2])
local dead = {}
for index = 3, #ARGV do
  dead[ARGV[index]] = true
end
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for index = 1, #fields, 2 do
  local node = fields[index]
  if dead[node] and node ~= ARGV[1] then
    redis.call('HDEL', KEYS[1], node)
  else
    total = total + tonumber(fields[index + 1])
  end
end
if limit > 0 and total >= limit then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
`

// releaseScript takes count connections of a user off this node's field, deleting
// the field when none are left. Returns what is left.
//
// KEYS: user hash. ARGV: tag, count.
var releaseScript = rueidis.NewLuaScript(`
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return left
`)

// renewScript writes this node's lease: its deadline in the nodes index and its
// totals. Returns {1 if the lease was still live, else 0, then the tags of the nodes
// whose lease expired}, all as text. A 0 means the lease had to be created anew (first start,
// expired, or Redis lost its data): the node's counts must then be rewritten.
//
// KEYS: nodes index, leases hash. ARGV: tag, lease in ms, totals ("<connections>
// <users> <id>").
var renewScript = rueidis.NewLuaScript(redisNow + `
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
local live = '0'
if deadline and tonumber(deadline) > now then
  live = '1'
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local result = {live}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  result[#result + 1] = node
end
return result
`)

// forgetScript deletes a node from the nodes index and the leases hash once its
// user fields are gone: after a clean exit (force 1), or after a sweep, only if its
// lease is still expired (the node may have come back meanwhile). Returns 1 when it
// deleted the node.
//
// KEYS: nodes index, leases hash. ARGV: tag, force.
var forgetScript = rueidis.NewLuaScript(redisNow + `
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[2] ~= '1' and deadline and tonumber(deadline) > now then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`)

// membersScript lists the nodes of the index with Redis's time: {now in ms, tag,
// deadline in ms, totals, tag, deadline, totals, ...}; totals are "" for a node
// without them. Live nodes only (deadline ahead) when ARGV[1] is "live".
//
// KEYS: nodes index, leases hash. ARGV: "live" or "all".
var membersScript = rueidis.NewLuaScriptReadOnly(redisNow + `
local low = '-inf'
if ARGV[1] == 'live' then
  low = '(' .. now
end
local members = redis.call('ZRANGEBYSCORE', KEYS[1], low, '+inf', 'WITHSCORES')
local result = {tostring(now)}
for index = 1, #members, 2 do
  result[#result + 1] = members[index]
  result[#result + 1] = members[index + 1]
  result[#result + 1] = redis.call('HGET', KEYS[2], members[index]) or ''
end
return result
`)
