package cluster

import "github.com/redis/rueidis"

// The streams of history channels in Redis (history.go). Each channel with history
// has two keys that every script touches together, so they share a hash tag (the
// channel's name in braces) and stay in one slot under Redis Cluster:
//
//	history:{<channel>}       stream: the publications, entry id <offset>-<Unix ms>,
//	                          one field "d" holding the data as published; the last
//	                          history_size entries and up to one stream node more
//	                          (100 entries by default: XADD MAXLEN ~ trims whole
//	                          nodes, several times cheaper than an exact trim; reads
//	                          leave the extra ones out), expires history_ttl after
//	                          the last append
//	history:{<channel>}:meta  hash {epoch, offset, server}: the stream's epoch, its
//	                          top offset, and the replication id of the Redis server
//	                          that wrote them; expires Config.HistoryMetaTTL after the
//	                          last append or read
//
// A stream's offsets live in the meta hash, not in the stream, so that a stream
// whose entries all expired (a quiet channel) keeps its epoch and its offsets: a
// client that missed nothing there still recovers.
//
// Lost streams. The epoch is drawn anew, the offsets continue above the old ones
// (historyMeta) and the stream is emptied whenever the meta hash is missing (Redis flushed or restarted without
// persistence, the hash expired or was evicted) or was written by another Redis
// server than the one running the script (its run_id differs: a replica promoted by
// a failover, whose copy may lack the last publications its primary acknowledged,
// or a restart from a snapshot). A stream that lost entries without its meta hash
// (evicted alone) keeps its epoch: its offsets are still unique, and recovery
// across the hole is refused because publications are missing.

// historyServer is Lua that sets server to the replication id of the Redis server
// running the script (INFO replication's master_replid): Redis draws a new one
// whenever it starts and whenever a replica is promoted, so it tells that the data
// the script sees may lack writes that were acknowledged before (a restart from a
// snapshot, a failover to a replica that lagged). It is the one server-local value
// a script can read cheaply: INFO replication costs about 3 µs of Redis's time,
// INFO server (run_id) twice that.
const historyServer = `local server = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
`

// historyMeta is Lua that loads the stream's epoch and top offset into epoch and
// offset, starting a new epoch (ARGV[1], drawn by the node) with an empty stream
// when the meta hash is missing or was written by another server, and extends the
// meta hash's life to ARGV[2] ms. A new epoch's offsets start above every offset
// the stream's earlier epochs issued (history.Store's contract: a live subscriber
// sees a gap, never offsets it takes for duplicates): above the old top when the
// hash is still there, and otherwise, the old top being lost with it, above the
// server's clock in microseconds, which no stream reaches by publishing (that
// would take more than one publication per microsecond since its epoch began,
// ten times what one Redis appends in all). A Redis whose clock is behind its
// predecessor's by more than the time since the stream's previous epoch began
// could break that. It needs historyServer and redisNow before it.
//
// KEYS: meta hash, stream.
const historyMeta = `local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset', 'server')
local epoch, offset = meta[1], meta[2]
if not epoch or meta[3] ~= server then
  local micros = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
  epoch, offset = ARGV[1], string.format('%d', math.max(tonumber(offset or '0'), micros))
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', offset, 'server', server)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
`

// historyAppendScript assigns the next offset of a channel's stream, appends the
// publication, trims the stream to its size, renews its TTL and publishes the
// publication with its position on the channel's Redis channel, all in one atomic
// step: every node receives a channel's publications in offset order, whichever
// nodes appended them. Returns {offset as text, epoch}.
//
// KEYS: meta hash, stream. ARGV: candidate epoch, meta TTL ms, size, TTL ms, Redis
// channel (ch:{<channel>}, in the keys' slot: a script's SPUBLISH must stay in its
// slot), envelope prefix, data.
var historyAppendScript = rueidis.NewLuaScript(historyServer + redisNow + historyMeta + `
local next = string.format('%d', tonumber(offset) + 1)
redis.call('HSET', KEYS[1], 'offset', next)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], next .. '-' .. string.format('%d', now), 'd', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SPUBLISH', ARGV[5], ARGV[6] .. string.char(#next) .. next .. string.char(#epoch) .. epoch .. ARGV[7])
return {next, epoch}
`)

// historyReadScript returns a channel's top position and up to a limit of its
// publications after an offset, oldest first, leaving out those beyond the last
// size (the stream's approximate trim keeps a few more) and those older than the
// TTL (whose key has not expired yet because younger ones followed them). A stream
// that does not exist gets its epoch here, so that a client that subscribed before
// the first publication can recover it. Returns {top offset as text, epoch,
// offset, data, offset, data, ...}.
//
// KEYS: meta hash, stream. ARGV: candidate epoch, meta TTL ms, offset after which
// to read, limit (0: the top only), size, TTL ms.
var historyReadScript = rueidis.NewLuaScript(historyServer + redisNow + historyMeta + `
local result = {offset, epoch}
local top, limit = tonumber(offset), tonumber(ARGV[4])
local first = math.max(tonumber(ARGV[3]), top - tonumber(ARGV[5])) + 1
if limit == 0 or first > top then
  return result
end
local oldest = now - tonumber(ARGV[6])
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], string.format('%d', first), '+', 'COUNT', limit)) do
  local at, written = string.match(entry[1], '^(%d+)-(%d+)$')
  if tonumber(written) >= oldest then
    result[#result + 1] = at
    result[#result + 1] = entry[2][2]
  end
end
return result
`)
