package session

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// userEntry is one user's connections inside a shard. Users with the same number of
// connections form an intrusive doubly linked list (one list per count), so the
// stats endpoint can list the top users without scanning every user, and moving a
// user between counts is O(1) with no allocation.
type userEntry struct {
	userID   string
	sessions []*Session
	previous *userEntry
	next     *userEntry
}

// shard holds a slice of the registry. A user's connections all live in the shard
// chosen by the user id, so the per-user limit check and the insert are one critical
// section under one lock.
type shard struct {
	// hub is the hub the shard belongs to: a session reaches it through its shard.
	hub   *Hub
	mutex sync.RWMutex
	// sessions finds a session by its id's key (sessionKey): 8 bytes instead of the
	// whole 16-byte id, so a slot of the map is 16 bytes instead of 24, about 12
	// bytes less per connection (12 MB at 1M connections).
	sessions map[uint64]*Session
	// collided holds the sessions whose key another session had taken when they
	// registered. Keys are 62 random bits, so at 1M connections on a node that is
	// one chance in ten million that any pair collides: nil until it happens, and
	// consulted only when sessions does not hold the id.
	collided map[ConnectionID]*Session
	// members is a dense copy of the sessions, for broadcast: copying a slice under
	// the read lock is several times cheaper than iterating a map of the same size.
	members []*Session
	users   map[string]*userEntry
	// usersByCount[n] heads the list of users with exactly n connections (n >= 1);
	// maxCount is the highest n with a non-empty list.
	usersByCount []*userEntry
	maxCount     int

	// connectionCount and userCount are written under mutex and read without it,
	// so totals cost O(shards) and never wait for a writer.
	connectionCount atomic.Int64
	userCount       atomic.Int64
	// flusher writes the queues of this shard's sessions (writer.go).
	flusher *flusher
}

func newShard(hub *Hub) *shard {
	return &shard{
		hub:          hub,
		sessions:     make(map[uint64]*Session),
		users:        make(map[string]*userEntry),
		usersByCount: make([]*userEntry, 2),
	}
}

// userConnectionCountLocked returns how many connections userID holds; the caller
// holds mutex.
func (sh *shard) userConnectionCountLocked(userID string) int {
	if entry := sh.users[userID]; entry != nil {
		return len(entry.sessions)
	}
	return 0
}

// sessionKey is the part of id the registry map is keyed by: its last 8 bytes,
// which are random (62 bits, the variant's 2 aside) also when the first bytes are
// a node tag, so they hash well and seldom collide.
func sessionKey(id ConnectionID) uint64 {
	return binary.LittleEndian.Uint64(id[8:])
}

// findLocked returns the registered session with id, or nil; the caller holds
// mutex.
func (sh *shard) findLocked(id ConnectionID) *Session {
	if s := sh.sessions[sessionKey(id)]; s != nil && s.id == id {
		return s
	}
	if sh.collided != nil {
		return sh.collided[id]
	}
	return nil
}

// insertLocked adds s; the caller holds mutex for writing and has checked limits.
// A session with the same id as a registered one replaces it.
func (sh *shard) insertLocked(s *Session) {
	key := sessionKey(s.id)
	if holder := sh.sessions[key]; holder != nil && holder.id != s.id {
		if sh.collided == nil {
			sh.collided = make(map[ConnectionID]*Session)
		}
		sh.collided[s.id] = s
	} else {
		sh.sessions[key] = s
	}
	s.memberIndex = int32(len(sh.members))
	sh.members = append(sh.members, s)
	sh.connectionCount.Add(1)
	if s.userID == "" {
		return
	}
	entry := sh.users[s.userID]
	if entry == nil {
		entry = &userEntry{userID: s.userID}
		sh.users[s.userID] = entry
		sh.userCount.Add(1)
	} else {
		sh.unlinkLocked(entry)
	}
	entry.sessions = append(entry.sessions, s)
	sh.linkLocked(entry)
}

// removeLocked deletes s if it is still registered and reports whether it was; the
// caller holds mutex for writing.
func (sh *shard) removeLocked(s *Session) bool {
	if key := sessionKey(s.id); sh.sessions[key] == s {
		delete(sh.sessions, key)
	} else if sh.collided[s.id] == s {
		delete(sh.collided, s.id)
		if len(sh.collided) == 0 {
			sh.collided = nil
		}
	} else {
		return false
	}
	last := len(sh.members) - 1
	moved := sh.members[last]
	sh.members[s.memberIndex] = moved
	moved.memberIndex = s.memberIndex
	sh.members[last] = nil
	sh.members = sh.members[:last]
	sh.connectionCount.Add(-1)
	if s.userID == "" {
		return true
	}
	entry := sh.users[s.userID]
	sh.unlinkLocked(entry)
	for index, candidate := range entry.sessions {
		if candidate == s {
			lastSession := len(entry.sessions) - 1
			entry.sessions[index] = entry.sessions[lastSession]
			entry.sessions[lastSession] = nil
			entry.sessions = entry.sessions[:lastSession]
			break
		}
	}
	if len(entry.sessions) == 0 {
		delete(sh.users, s.userID)
		sh.userCount.Add(-1)
		return true
	}
	sh.linkLocked(entry)
	return true
}

// linkLocked puts entry at the head of the list for its connection count.
func (sh *shard) linkLocked(entry *userEntry) {
	count := len(entry.sessions)
	for len(sh.usersByCount) <= count {
		sh.usersByCount = append(sh.usersByCount, nil)
	}
	head := sh.usersByCount[count]
	entry.previous = nil
	entry.next = head
	if head != nil {
		head.previous = entry
	}
	sh.usersByCount[count] = entry
	if count > sh.maxCount {
		sh.maxCount = count
	}
}

// unlinkLocked removes entry from the list for its current connection count.
func (sh *shard) unlinkLocked(entry *userEntry) {
	count := len(entry.sessions)
	if entry.previous != nil {
		entry.previous.next = entry.next
	} else {
		sh.usersByCount[count] = entry.next
	}
	if entry.next != nil {
		entry.next.previous = entry.previous
	}
	entry.previous, entry.next = nil, nil
	for sh.maxCount > 0 && sh.usersByCount[sh.maxCount] == nil {
		sh.maxCount--
	}
}
