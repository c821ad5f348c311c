package delivery

import (
	"errors"
	"hash/maphash"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/presence"
)

// presenceRegistry is this node's presence: per channel whose namespace tracks
// presence, the users subscribed with their numbers of connections, and the
// channel's totals, all maintained on each change (never recomputed by a scan).
// Sharded by channel name; safe for concurrent use.
//
// Paging: each user gets a sequence number when it becomes present in a channel,
// from one counter of the registry, so numbers only grow. A channel keeps its
// users in sequence order (order, with holes where users left, compacted once
// holes outnumber users), and a cursor is the sequence number of the last user a
// page returned: the next page starts after it by binary search. A user present
// throughout a walk keeps its number, so it is listed exactly once; one that
// leaves and comes back gets a new, larger number.
//
// Memory (TestPresenceMemoryPerUser, amd64): about 90 bytes per present user of
// a channel on top of the user id string, which is the session's own.
type presenceRegistry struct {
	seed     maphash.Seed
	sequence atomic.Uint64
	shards   [presenceShardCount]presenceShard
}

// presenceShardCount is the number of shards of the registry.
const presenceShardCount = 64

type presenceShard struct {
	mutex    sync.RWMutex
	channels map[string]*channelPresence
}

// channelPresence is one channel's presence; guarded by its shard's mutex.
type channelPresence struct {
	// positions maps each present user to its place in order.
	positions map[string]int32
	// order holds the present users in sequence order; an entry whose
	// connections is 0 is a hole left by a user that left.
	order       []presentUser
	holes       int
	connections int
}

// presentUser is one user present in a channel: 32 bytes.
type presentUser struct {
	user        string
	sequence    uint64
	connections int32
}

// compactFloor is the number of holes below which a channel's order is never
// compacted: small channels do not rebuild on every leave.
const compactFloor = 32

// errInvalidCursor answers a presence page asked with a cursor no page gave.
var errInvalidCursor = errors.New("invalid cursor")

func newPresenceRegistry() *presenceRegistry {
	registry := &presenceRegistry{seed: maphash.MakeSeed()}
	for index := range registry.shards {
		registry.shards[index].channels = make(map[string]*channelPresence)
	}
	return registry
}

func (r *presenceRegistry) shardOf(channel string) *presenceShard {
	return &r.shards[maphash.String(r.seed, channel)%presenceShardCount]
}

// add counts one more connection of user in channel and calls changed, under
// the shard's lock (so that the changes of one channel and user reach it in
// order), with the user's connections there after the change.
func (r *presenceRegistry) add(channel, user string, changed func(connections int)) {
	shard := r.shardOf(channel)
	shard.mutex.Lock()
	defer shard.mutex.Unlock()
	target := shard.channels[channel]
	if target == nil {
		target = &channelPresence{positions: make(map[string]int32)}
		shard.channels[channel] = target
	}
	target.connections++
	if position, found := target.positions[user]; found {
		target.order[position].connections++
		changed(int(target.order[position].connections))
		return
	}
	target.positions[user] = int32(len(target.order))
	target.order = append(target.order, presentUser{user: user, sequence: r.sequence.Add(1), connections: 1})
	changed(1)
}

// remove counts one connection of user fewer in channel and calls changed as add
// does. A user not present is left alone (changed is not called).
func (r *presenceRegistry) remove(channel, user string, changed func(connections int)) {
	shard := r.shardOf(channel)
	shard.mutex.Lock()
	defer shard.mutex.Unlock()
	target := shard.channels[channel]
	if target == nil {
		return
	}
	position, found := target.positions[user]
	if !found {
		return
	}
	target.connections--
	entry := &target.order[position]
	if entry.connections--; entry.connections > 0 {
		changed(int(entry.connections))
		return
	}
	entry.user = ""
	delete(target.positions, user)
	target.holes++
	switch {
	case len(target.positions) == 0:
		delete(shard.channels, channel)
	case target.holes >= compactFloor && target.holes > len(target.positions):
		target.compact()
	}
	changed(0)
}

// compact drops the holes of order, in O(its length), keeping the sequence order.
func (c *channelPresence) compact() {
	kept := make([]presentUser, 0, 2*len(c.positions))
	for _, entry := range c.order {
		if entry.connections > 0 {
			c.positions[entry.user] = int32(len(kept))
			kept = append(kept, entry)
		}
	}
	c.order, c.holes = kept, 0
}

// page returns up to limit users of channel after cursor ("" for the first
// page), with the totals and the next page's cursor; errInvalidCursor when cursor
// is not one a page returned. O(log users + limit), plus the holes skipped.
func (r *presenceRegistry) page(channel string, limit int, cursor string) (presence.Page, error) {
	after := uint64(0)
	if cursor != "" {
		parsed, err := strconv.ParseUint(cursor, 36, 64)
		if err != nil || parsed == 0 {
			return presence.Page{}, errInvalidCursor
		}
		after = parsed
	}
	limit = pageLimit(limit)
	shard := r.shardOf(channel)
	shard.mutex.RLock()
	defer shard.mutex.RUnlock()
	target := shard.channels[channel]
	if target == nil {
		return presence.Page{Users: map[string]int{}}, nil
	}
	page := presence.Page{Users: make(map[string]int, min(limit, len(target.positions))),
		TotalUsers: len(target.positions), TotalConnections: target.connections}
	position := sort.Search(len(target.order), func(index int) bool { return target.order[index].sequence > after })
	last := uint64(0)
	for ; position < len(target.order); position++ {
		entry := target.order[position]
		if entry.connections == 0 {
			continue
		}
		if len(page.Users) == limit {
			page.Cursor = strconv.FormatUint(last, 36)
			break
		}
		page.Users[entry.user] = int(entry.connections)
		last = entry.sequence
	}
	return page, nil
}

// stats returns channel's distinct users and connections, in O(1).
func (r *presenceRegistry) stats(channel string) (users, connections int) {
	shard := r.shardOf(channel)
	shard.mutex.RLock()
	defer shard.mutex.RUnlock()
	if target := shard.channels[channel]; target != nil {
		return len(target.positions), target.connections
	}
	return 0, 0
}

// pageLimit returns the page size a request's limit means: DefaultPageSize for
// none (0 or less), at most MaxPageSize.
func pageLimit(limit int) int {
	if limit <= 0 {
		return presence.DefaultPageSize
	}
	return min(limit, presence.MaxPageSize)
}
