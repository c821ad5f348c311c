package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/redis/rueidis"
)

// The per-user limit across nodes. Redis holds, per user, a hash of connection counts
// by node tag (user:<user>). A connect runs acquireScript, which sums the fields of
// the nodes not known to be dead and increments this node's field atomically, so
// concurrent connects of one user on several nodes never pass the limit together.
// The node's set of users (node:<tag>:users, for the sweep after a crash) lies in
// another slot than the users' hashes, so it is written beside the scripts, not by
// them: a user is added before its first count and removed after its field is gone,
// so the set always covers the fields (a crash in between leaves a user in the set
// without a field, which the sweep skips). A disconnect must not wait
// for Redis (it happens on timer and transport goroutines), so releases are counted
// here and sent in batches by the maintenance goroutine.
//
// This node's own counts are kept here too: they are the truth whenever Redis may
// have missed a change (a failed call, a Redis restart, an expired lease), and the
// maintenance goroutine then rewrites the user's field from them. A rewrite is an
// absolute value and would undo an increment racing with it, so users with an
// Acquire in flight are rewritten on a later pass, and an Acquire that lands during
// a rewrite marks its user for another one.

// admission is the node's side of the per-user counts. Its methods are safe for
// concurrent use; mutex is never held during a Redis call.
type admission struct {
	mutex sync.Mutex
	// counts holds every user's connections on this node counted by Acquire and not
	// released; users at zero are deleted.
	counts map[string]int
	// states holds the users with work for Redis; users without any are deleted, so
	// it stays small while Redis is healthy.
	states map[string]*userState
	// wake tells the maintenance goroutine that releases are waiting.
	wake chan struct{}
}

// userState is a user's pending work for Redis.
type userState struct {
	// releases is the number of releases not sent to Redis yet.
	releases int
	// acquiring is the number of Acquire calls waiting for Redis.
	acquiring int
	// stale says Redis's field for this node may be wrong: rewrite it from counts.
	stale bool
	// rewriting says a rewrite of this user is on its way to Redis.
	rewriting bool
}

func (a *admission) init() {
	a.counts = make(map[string]int)
	a.states = make(map[string]*userState)
	a.wake = make(chan struct{}, 1)
}

// stateLocked returns userID's state, creating it; the caller holds mutex.
func (a *admission) stateLocked(userID string) *userState {
	state := a.states[userID]
	if state == nil {
		state = &userState{}
		a.states[userID] = state
	}
	return state
}

// settleLocked deletes userID's state once it has no work left; the caller holds
// mutex.
func (a *admission) settleLocked(userID string, state *userState) {
	if state.releases == 0 && state.acquiring == 0 && !state.stale && !state.rewriting {
		delete(a.states, userID)
	}
}

// Acquire implements session.Admission: one round trip to Redis (acquireScript),
// bounded by Config.Timeout. When Redis cannot be reached (or is known to be
// unreachable, see available) it returns the error with the connection counted here,
// and the hub applies its local limit alone; the user's field is rewritten when Redis
// answers again.
func (n *Node) Acquire(userID string, limit int) (bool, error) {
	a := &n.admission
	a.mutex.Lock()
	a.stateLocked(userID).acquiring++
	a.mutex.Unlock()

	counted, err := int64(0), errOutage
	// listErr is the outcome of adding the user to this node's set: when it failed
	// (under Redis Cluster the set's master may be down while the user's is up), the
	// user is rewritten later, which adds it again.
	var listErr error
	if n.available() {
		ctx, cancel := n.call(context.Background())
		results := n.client.DoMulti(ctx, n.client.B().Sadd().Key(n.keys.nodeUsers).Member(userID).Build(),
			n.client.B().Eval().Script(acquireScript).Numkeys(1).Key(n.keys.user(userID)).Arg(n.acquireArguments(limit)...).Build())
		cancel()
		listErr = results[0].Error()
		counted, err = results[1].AsInt64()
		n.observe(listErr)
		n.observe(err)
	}

	a.mutex.Lock()
	defer a.mutex.Unlock()
	state := a.stateLocked(userID)
	state.acquiring--
	switch {
	case err != nil:
		n.counters.admissionFallbacks.Add(1)
		a.counts[userID]++
		state.stale = true
	case counted == 1:
		a.counts[userID]++
		if state.rewriting || listErr != nil {
			state.stale = true
		}
	}
	a.settleLocked(userID, state)
	return counted == 1, err
}

// acquireArguments are acquireScript's ARGV.
func (n *Node) acquireArguments(limit int) []string {
	dead := n.deadNodes()
	arguments := make([]string, 0, 2+len(dead))
	return append(append(arguments, n.keys.tag, strconv.Itoa(limit)), dead...)
}

// Release implements session.Admission: it counts the release here and wakes the
// maintenance goroutine, which sends it; it never blocks.
func (n *Node) Release(userID string) {
	a := &n.admission
	a.mutex.Lock()
	if a.counts[userID]--; a.counts[userID] <= 0 {
		delete(a.counts, userID)
	}
	a.stateLocked(userID).releases++
	a.mutex.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// flushReleases sends the releases counted since the last flush, in pipelined
// batches. A failed batch marks its users stale: Redis may or may not have applied
// it, so their fields are rewritten later. Only the maintenance goroutine calls it.
func (n *Node) flushReleases() {
	a := &n.admission
	a.mutex.Lock()
	batch := make([]userCount, 0, len(a.states))
	for userID, state := range a.states {
		if state.releases > 0 {
			batch = append(batch, userCount{userID, state.releases})
			state.releases = 0
			a.settleLocked(userID, state)
		}
	}
	a.mutex.Unlock()
	for start := 0; start < len(batch); start += pipelineBatch {
		part := batch[start:min(start+pipelineBatch, len(batch))]
		results := n.execBatch(releaseScript, n.userCountCalls(part))
		var gone []string
		a.mutex.Lock()
		for index, result := range results {
			left, err := result.AsInt64()
			switch {
			case err != nil:
				a.stateLocked(part[index].userID).stale = true
			case left <= 0:
				gone = append(gone, part[index].userID)
			}
		}
		a.mutex.Unlock()
		n.unlist(gone)
	}
}

// unlist removes users whose field on this node is gone from the node's set of
// users. An Acquire of one of them racing with it may have added it back before the
// removal landed: such users (counted or acquiring when the removal returns) are
// marked stale, and their rewrite adds them again. Only the maintenance goroutine
// calls it.
func (n *Node) unlist(users []string) {
	if len(users) == 0 {
		return
	}
	ctx, cancel := n.call(context.Background())
	err := n.client.Do(ctx, n.client.B().Srem().Key(n.keys.nodeUsers).Member(users...).Build()).Error()
	cancel()
	n.observe(err)
	a := &n.admission
	a.mutex.Lock()
	defer a.mutex.Unlock()
	for _, userID := range users {
		state := a.states[userID]
		if a.counts[userID] > 0 || (state != nil && state.acquiring > 0) {
			a.stateLocked(userID).stale = true
		}
	}
}

// rewriteStale writes the absolute count of every stale user without an Acquire in
// flight (after rewriteAll, of every user). Only the maintenance goroutine calls it.
func (n *Node) rewriteStale() {
	a := &n.admission
	if n.rewriteAll.Swap(false) {
		a.mutex.Lock()
		for userID := range a.counts {
			a.stateLocked(userID).stale = true
		}
		a.mutex.Unlock()
	}
	a.mutex.Lock()
	var batch []userCount
	for userID, state := range a.states {
		if state.stale && state.acquiring == 0 {
			batch = append(batch, userCount{userID, a.counts[userID]})
			state.stale, state.rewriting = false, true
			// The absolute count covers the releases not sent yet.
			state.releases = 0
		}
	}
	a.mutex.Unlock()
	for start := 0; start < len(batch); start += pipelineBatch {
		part := batch[start:min(start+pipelineBatch, len(batch))]
		failed, gone := n.rewrite(part)
		a.mutex.Lock()
		for _, item := range part {
			state := a.stateLocked(item.userID)
			state.rewriting = false
			a.settleLocked(item.userID, state)
		}
		for _, index := range failed {
			state := a.stateLocked(part[index].userID)
			state.stale = true
		}
		a.mutex.Unlock()
		n.unlist(gone)
	}
}

// rewrite writes the absolute counts of part in one pipelined write: for a count
// above 0 the user joins the node's set, then its field is set; for 0 the field is
// deleted, and the user is returned in gone, to leave the set (unlist). It returns
// the indexes of the users whose rewrite failed.
func (n *Node) rewrite(part []userCount) (failed []int, gone []string) {
	commands := make(rueidis.Commands, 0, 2*len(part))
	for _, item := range part {
		key := n.keys.user(item.userID)
		if item.count > 0 {
			commands = append(commands, n.client.B().Sadd().Key(n.keys.nodeUsers).Member(item.userID).Build(),
				n.client.B().Hset().Key(key).FieldValue().FieldValue(n.keys.tag, strconv.Itoa(item.count)).Build())
		} else {
			commands = append(commands, n.client.B().Hdel().Key(key).Field(n.keys.tag).Build())
		}
	}
	ctx, cancel := n.call(context.Background())
	results := n.client.DoMulti(ctx, commands...)
	cancel()
	next := 0
	for index, item := range part {
		err := results[next].Error()
		next++
		if item.count > 0 {
			err = errors.Join(err, results[next].Error())
			next++
		}
		n.observe(err)
		switch {
		case err != nil:
			failed = append(failed, index)
		case item.count == 0:
			gone = append(gone, item.userID)
		}
	}
	return failed, gone
}

// userCount is one user's connection count (or count to release) on this node.
type userCount struct {
	userID string
	count  int
}

// userCountCalls builds one releaseScript call per user.
func (n *Node) userCountCalls(part []userCount) []rueidis.LuaExec {
	calls := make([]rueidis.LuaExec, len(part))
	for index, item := range part {
		calls[index] = rueidis.LuaExec{
			Keys: []string{n.keys.user(item.userID)},
			Args: []string{n.keys.tag, strconv.Itoa(item.count)},
		}
	}
	return calls
}
