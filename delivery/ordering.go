package delivery

import (
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/session"
)

// The order of one connection's channel requests while a backend check is in
// flight. A subscribe or publish in a checked namespace waits for the backend on
// a callbacks worker; the requests the same connection sends after it
// (subscribe, unsubscribe, publish, to any channel) wait behind it in a short
// queue and are handled, in the order sent, once its answer came. So a client
// that sends subscribe then publish, or publish then publish, sees them handled
// in that order, and an unsubscribe sent after a checked subscribe undoes it.
// Other messages (rpc, message, hello, ping) do not wait. A connection without a
// check in flight pays one atomic load per channel request.

// DefaultMaxWaitingRequests is the default of Config.MaxWaitingRequests: the
// channel requests one connection may have waiting behind a check.
const DefaultMaxWaitingRequests = 64

// request handles one channel request of a connection. It returns true when it
// started a backend check whose completion will call requestChains.resume for
// the connection, false when it is done.
type request func() (checking bool)

// chainShardCount is the number of shards of requestChains, a power of two.
const chainShardCount = 64

// requestChains holds, per connection with a check in flight, the requests
// waiting behind it. A connection has an entry exactly while one of its
// requests is being checked: only the connection's handler goroutine adds an
// entry (open, from a request it runs), and only the check's completion removes
// it (resume), so the two never race for one connection. Safe for concurrent
// use.
type requestChains struct {
	shards [chainShardCount]struct {
		mutex  sync.Mutex
		chains map[*session.Session]*[]request
	}
	// entries counts the connections with an entry, so that handle skips the
	// shard while no check is in flight anywhere.
	entries atomic.Int64
	// limit bounds a connection's waiting requests (at least 1).
	limit int
}

// shardOf returns the shard of s, chosen by the random bytes of its id.
func (c *requestChains) shardOf(s *session.Session) (*sync.Mutex, *map[*session.Session]*[]request) {
	id := s.ID()
	shard := &c.shards[(id[15]^id[7])&(chainShardCount-1)]
	return &shard.mutex, &shard.chains
}

// handle runs next at once when s has no check in flight, or queues it behind
// the check; it reports false, without running next, when s already has limit
// requests waiting. Called on s's handler goroutine.
func (c *requestChains) handle(s *session.Session, next request) bool {
	if c.entries.Load() > 0 {
		mutex, chains := c.shardOf(s)
		mutex.Lock()
		if waiting, found := (*chains)[s]; found {
			accepted := len(*waiting) < c.limit
			if accepted {
				*waiting = append(*waiting, next)
			}
			mutex.Unlock()
			return accepted
		}
		mutex.Unlock()
	}
	if next() {
		return true
	}
	c.closeIdle(s)
	return true
}

// open makes sure s has an entry before its request starts a check, so that
// the requests s sends meanwhile wait behind the check. A request calls it
// before it hands the check to the callbacks client.
func (c *requestChains) open(s *session.Session) {
	mutex, chains := c.shardOf(s)
	mutex.Lock()
	defer mutex.Unlock()
	if *chains == nil {
		*chains = map[*session.Session]*[]request{}
	}
	if _, found := (*chains)[s]; !found {
		(*chains)[s] = new([]request)
		c.entries.Add(1)
	}
}

// closeIdle removes s's entry when nothing waits in it: a request that opened it
// could not start its check after all (the breaker was open, the queue full).
func (c *requestChains) closeIdle(s *session.Session) {
	if c.entries.Load() == 0 {
		return
	}
	mutex, chains := c.shardOf(s)
	mutex.Lock()
	defer mutex.Unlock()
	if waiting, found := (*chains)[s]; found && len(*waiting) == 0 {
		delete(*chains, s)
		c.entries.Add(-1)
	}
}

// resume runs the requests waiting behind s's check, which has just ended, in
// order, until one starts a check of its own (whose completion resumes again) or
// none is left (the entry is removed). Called on a callbacks worker.
func (c *requestChains) resume(s *session.Session) {
	mutex, chains := c.shardOf(s)
	for {
		mutex.Lock()
		waiting := (*chains)[s]
		if waiting == nil || len(*waiting) == 0 {
			if waiting != nil {
				delete(*chains, s)
				c.entries.Add(-1)
			}
			mutex.Unlock()
			return
		}
		next := (*waiting)[0]
		(*waiting)[0] = nil
		*waiting = (*waiting)[1:]
		mutex.Unlock()
		if next() {
			return
		}
	}
}
