package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/presence"
)

// Channel presence across the cluster (the delivery layer's PresenceCluster). Each
// node reports its own presence changes (a user's connections subscribed to a
// channel on this node, as an absolute count); a background goroutine writes them
// to Redis in batches, one script per channel and batch, pipelined. The scripts
// keep, per channel, each node's contribution, the users' totals and the channel's
// totals (presencescripts.go), and report the users whose total began or ended:
// those are the cluster-wide joins and leaves, handed to the Receiver
// (PresenceTransitions). Queries read Redis only: a page of users in name order,
// or two counters.
//
// A node's contributions are written under its incarnation, an identity of its own
// in the presence index with a deadline renewed every Lease/3, like the lease. A
// node that stops renewing (crash, partition) is dead once the deadline passes,
// and the next live node to sweep (every Lease/3) removes its contributions channel
// by channel, reporting its users' leaves: a crashed node's users leave within
// Lease plus one sweep period. A node that finds its own incarnation expired or
// lost (it was cut from Redis for longer than the lease, or Redis restarted empty)
// never writes under it again: it starts a new incarnation and writes all its
// presence under it, while the old one is swept like a dead node's. So a sweep and
// a rewrite never race on the same keys. A node writes only while its last renewal
// is fresh (see presenceWritable), so that it does not write under an incarnation
// that others may already sweep.
//
// Changes are absolute counts, so a change applied twice (a failed call that did
// reach Redis) is harmless, and the changes not yet applied are kept as one entry
// per (channel, user), the latest count: an outage costs memory per user and
// channel touched, not per change. Past presencePendingSlack such entries for
// users gone from this node, the node stops tracking them and rewrites everything
// under a new incarnation instead.

// presencePendingSlack is how many pending entries beyond this node's present
// (channel, user) pairs may wait for Redis before the node gives up on them and
// resyncs under a new incarnation: entries for users who left during an outage are
// the only ones not bounded by the node's own presence.
const presencePendingSlack = 100_000

// presenceRoundChanges bounds the changes one round of the presence goroutine
// writes, so that its renewals and sweeps keep their period under a storm.
const presenceRoundChanges = 10 * pipelineBatch

// presenceCallUsers is the most users one presenceApplyScript call sets (its ARGV
// holds two values per user).
const presenceCallUsers = 500

// presenceSweepChannels is how many channels of a dead incarnation one sweep step
// cleans, each by up to sweepBatchText users.
const presenceSweepChannels = 100

// maxUsersOnline is the most users one UsersOnline call takes.
const maxUsersOnline = 1000

// cursorMark starts every presence cursor, so that a cursor is never "" (the first
// page) even when the last user of a page is called "".
const cursorMark = ">"

// ErrTooManyUsers is the error of UsersOnline for more than 1000 users.
var ErrTooManyUsers = errors.New("cluster: at most 1000 users per presence request")

// presenceKey is one user in one channel.
type presenceKey struct {
	channel string
	user    string
}

// presenceState is the node's side of channel presence. The mutex guards counts,
// pending and resync and is never held during a Redis call; the other fields
// belong to the presence goroutine (and to Close once it stopped).
type presenceState struct {
	mutex sync.Mutex
	// counts is this node's presence as reported: connections per (channel, user),
	// zeros deleted. It is what a rewrite writes.
	counts map[presenceKey]int
	// pending holds the pairs whose count in counts Redis may not have yet.
	pending map[presenceKey]struct{}
	// resync asks for a new incarnation holding all of counts.
	resync bool
	// wake tells the presence goroutine that changes are waiting.
	wake chan struct{}

	generation  int
	incarnation string
	// registered says incarnation is in the index; written that it may hold
	// contributions.
	registered bool
	written    bool
	// retiring holds earlier incarnations that may hold contributions, to end in
	// the index once the current one holds all of counts.
	retiring []string
	// recorded holds the channels in incarnation's channel set.
	recorded map[string]bool
	// recoveries is the value of Node.recoveries at the last check of the
	// incarnation.
	recoveries uint64
	// validUntil is when incarnation's deadline ends, as of its last renewal, by
	// this node's clock (the renewal's start plus Lease).
	validUntil time.Time
}

func (p *presenceState) init(tag string) {
	p.counts = make(map[presenceKey]int)
	p.pending = make(map[presenceKey]struct{})
	p.wake = make(chan struct{}, 1)
	p.recorded = make(map[string]bool)
	p.generation = 1
	p.incarnation = tag + ".1"
}

// ReportPresence implements delivery.PresenceCluster: it records change (the
// user's connections in the channel on this node after it) and wakes the presence
// goroutine, which writes it to Redis; it never blocks on the network. Changes of
// one (channel, user) reach Redis in call order, coalesced to the latest.
func (n *Node) ReportPresence(change presence.Change) {
	p := &n.presence
	key := presenceKey{channel: change.Channel, user: change.User}
	p.mutex.Lock()
	if change.Connections > 0 {
		p.counts[key] = change.Connections
	} else {
		delete(p.counts, key)
	}
	if !p.resync {
		p.pending[key] = struct{}{}
		if len(p.pending) > len(p.counts)+presencePendingSlack {
			clear(p.pending)
			p.resync = true
		}
	}
	p.mutex.Unlock()
	p.signal()
}

// signal wakes the presence goroutine without blocking.
func (p *presenceState) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// hasWork reports whether changes or a resync wait for Redis.
func (p *presenceState) hasWork() bool {
	p.mutex.Lock()
	defer p.mutex.Unlock()
	return len(p.pending) > 0 || p.resync
}

// presenceLoop is the presence goroutine: it writes changes as they come (and
// every probeInterval while some wait for Redis), and every Lease/3 renews its
// incarnation and sweeps dead ones.
func (n *Node) presenceLoop() {
	defer n.workers.Done()
	p := &n.presence
	renewal := time.NewTicker(n.config.Lease / 3)
	defer renewal.Stop()
	retry := time.NewTicker(probeInterval)
	defer retry.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-p.wake:
			n.applyPresence()
		case <-retry.C:
			if n.available() && p.hasWork() {
				n.applyPresence()
			}
		case <-renewal.C:
			n.renewPresence()
			n.sweepPresence()
		}
	}
}

// renewPresence registers the node's incarnation or extends its deadline; when the
// deadline had passed or Redis lost it, it asks for a new incarnation.
func (n *Node) renewPresence() {
	p := &n.presence
	if !p.registered {
		n.registerPresence()
		return
	}
	started := time.Now()
	ctx, cancel := n.call(context.Background())
	renewed, err := presenceRenewScript.Exec(ctx, n.client, []string{n.keys.presenceIndex()},
		[]string{p.incarnation, strconv.FormatInt(n.config.Lease.Milliseconds(), 10)}).AsInt64()
	cancel()
	n.observe(err)
	if err != nil {
		return
	}
	if renewed == 1 {
		p.validUntil = started.Add(n.config.Lease)
		return
	}
	n.logger.Warn("presence lease expired or Redis lost it; rewriting this node's presence")
	p.mutex.Lock()
	p.resync = true
	p.mutex.Unlock()
	p.signal()
}

// registerPresence enters the incarnation in the index and reports whether it is.
func (n *Node) registerPresence() bool {
	p := &n.presence
	started := time.Now()
	ctx, cancel := n.call(context.Background())
	err := presenceRegisterScript.Exec(ctx, n.client, []string{n.keys.presenceIndex()},
		[]string{p.incarnation, strconv.FormatInt(n.config.Lease.Milliseconds(), 10)}).Error()
	cancel()
	n.observe(err)
	if err != nil {
		return false
	}
	p.registered = true
	p.validUntil = started.Add(n.config.Lease)
	return true
}

// presenceWritable reports whether the incarnation's last renewal is fresh enough
// to write under it: its deadline is more than min(Timeout, Lease/3) away, so a
// write sent now lands before other nodes may take the incarnation for dead.
func (n *Node) presenceWritable() bool {
	margin := min(n.config.Timeout, n.config.Lease/3)
	return n.presence.registered && time.Now().Add(margin).Before(n.presence.validUntil)
}

// startIncarnation moves to a new incarnation holding all of counts (a resync).
// An incarnation once entered in the index is never entered again (a sweeper may
// have taken it for dead); the old one is no longer renewed, and when it may hold
// contributions it is ended in the index once the new one holds everything.
func (n *Node) startIncarnation() {
	p := &n.presence
	if p.written {
		p.retiring = append(p.retiring, p.incarnation)
	}
	if p.written || p.registered {
		p.generation++
		p.incarnation = n.keys.tag + "." + strconv.Itoa(p.generation)
		p.written = false
		p.registered = false
		clear(p.recorded)
	}
	p.mutex.Lock()
	p.resync = false
	for key := range p.counts {
		p.pending[key] = struct{}{}
	}
	p.mutex.Unlock()
	n.counters.presenceRewrites.Add(1)
}

// applyPresence writes up to presenceRoundChanges pending changes, and wakes the
// goroutine again when more wait. Changes whose write failed stay pending.
func (n *Node) applyPresence() {
	p := &n.presence
	if !n.available() {
		return
	}
	if recoveries := n.recoveries.Load(); p.registered && recoveries != p.recoveries {
		// Redis was unreachable: it may have restarted empty. Check the
		// incarnation before writing under it.
		p.recoveries = recoveries
		n.renewPresence()
	}
	p.mutex.Lock()
	resync := p.resync
	p.mutex.Unlock()
	if resync {
		n.startIncarnation()
	}
	if !p.registered && !n.registerPresence() {
		return
	}
	if !n.presenceWritable() {
		return
	}
	for round := 0; round < presenceRoundChanges/pipelineBatch; round++ {
		if !n.applyPresenceBatch() {
			break
		}
	}
	if p.hasWork() {
		p.signal()
		return
	}
	for len(p.retiring) > 0 && n.retirePresence(p.retiring[0]) {
		p.retiring = p.retiring[1:]
	}
}

// retirePresence ends an old incarnation's deadline at once, so that the next
// sweep removes it (without this it would expire within Lease), entering it in
// the index if Redis lost it there (it may have written into the restarted Redis
// before its renewal found it lost), and reports whether Redis did it.
func (n *Node) retirePresence(incarnation string) bool {
	ctx, cancel := n.call(context.Background())
	err := n.client.Do(ctx, n.client.B().Zadd().Key(n.keys.presenceIndex()).ScoreMember().
		ScoreMember(0, incarnation).Build()).Error()
	cancel()
	n.observe(err)
	return err == nil
}

// presenceCall is one presenceApplyScript call: one channel, several users.
type presenceCall struct {
	channel string
	users   []presenceKey
	counts  []int
}

// applyPresenceBatch writes up to pipelineBatch pending changes in one pipelined
// round (after recording new channels in the incarnation's channel set) and
// reports whether it wrote all it took without error and more may wait.
func (n *Node) applyPresenceBatch() bool {
	p := &n.presence
	calls, taken := n.takePresence(pipelineBatch)
	if taken == 0 {
		return false
	}
	var fresh []string
	for _, call := range calls {
		if !p.recorded[call.channel] && !containsString(fresh, call.channel) {
			fresh = append(fresh, call.channel)
		}
	}
	if len(fresh) > 0 {
		ctx, cancel := n.call(context.Background())
		err := n.client.Do(ctx, n.client.B().Sadd().Key(n.keys.presenceChannels(p.incarnation)).Member(fresh...).Build()).Error()
		cancel()
		n.observe(err)
		if err != nil {
			n.requeuePresence(calls)
			n.counters.presenceFailures.Add(uint64(taken))
			return false
		}
		for _, channel := range fresh {
			p.recorded[channel] = true
		}
	}
	p.written = true
	executions := make([]rueidis.LuaExec, len(calls))
	for index, call := range calls {
		arguments := make([]string, 0, 2*len(call.users))
		for user, key := range call.users {
			arguments = append(arguments, key.user, strconv.Itoa(call.counts[user]))
		}
		executions[index] = rueidis.LuaExec{Keys: n.keys.presenceChannelKeys(call.channel, p.incarnation), Args: arguments}
	}
	ctx, cancel := n.call(context.Background())
	results := presenceApplyScript.ExecMulti(ctx, n.client, executions...)
	cancel()
	n.counters.presenceBatches.Add(1)
	succeeded := true
	emptied := make(map[string]bool)
	for index, result := range results {
		call := calls[index]
		answer, err := parsePresenceAnswer(result)
		n.observe(result.Error())
		if err != nil {
			succeeded = false
			n.requeuePresence(calls[index : index+1])
			n.counters.presenceFailures.Add(uint64(len(call.users)))
			continue
		}
		n.counters.presenceApplied.Add(uint64(len(call.users)))
		// The last call of a channel says whether the contribution ended empty.
		emptied[call.channel] = answer.empty
		n.reportTransitions(call.channel, answer)
	}
	n.forgetChannels(p.incarnation, emptied)
	return succeeded && taken == pipelineBatch
}

// takePresence takes up to most pending changes with their counts, grouped into
// calls of one channel each.
func (n *Node) takePresence(most int) ([]presenceCall, int) {
	p := &n.presence
	p.mutex.Lock()
	defer p.mutex.Unlock()
	byChannel := make(map[string]int)
	var calls []presenceCall
	taken := 0
	for key := range p.pending {
		if taken == most {
			break
		}
		delete(p.pending, key)
		taken++
		index, found := byChannel[key.channel]
		if !found || len(calls[index].users) == presenceCallUsers {
			index = len(calls)
			byChannel[key.channel] = index
			calls = append(calls, presenceCall{channel: key.channel})
		}
		calls[index].users = append(calls[index].users, key)
		calls[index].counts = append(calls[index].counts, p.counts[key])
	}
	return calls, taken
}

// requeuePresence marks the changes of calls pending again; their counts are read
// anew when they are retried.
func (n *Node) requeuePresence(calls []presenceCall) {
	p := &n.presence
	p.mutex.Lock()
	defer p.mutex.Unlock()
	if p.resync {
		return
	}
	for _, call := range calls {
		for _, key := range call.users {
			p.pending[key] = struct{}{}
		}
	}
}

// forgetChannels removes the channels whose contribution became empty from
// incarnation's channel set. A failure leaves them there: a sweep of an empty
// contribution only costs a script call.
func (n *Node) forgetChannels(incarnation string, emptied map[string]bool) {
	var gone []string
	for channel, empty := range emptied {
		if empty {
			gone = append(gone, channel)
		}
	}
	if len(gone) == 0 {
		return
	}
	ctx, cancel := n.call(context.Background())
	err := n.client.Do(ctx, n.client.B().Srem().Key(n.keys.presenceChannels(incarnation)).Member(gone...).Build()).Error()
	cancel()
	n.observe(err)
	if err == nil && incarnation == n.presence.incarnation {
		for _, channel := range gone {
			delete(n.presence.recorded, channel)
		}
	}
}

// presenceAnswer is what presenceApplyScript and presenceSweepScript return.
type presenceAnswer struct {
	empty  bool
	joined []string
	left   []string
	// changed is how many contributions the script changed.
	changed int
}

// parsePresenceAnswer reads {empty, contributions changed, number of joins,
// joined..., left...}.
func parsePresenceAnswer(result rueidis.RedisResult) (presenceAnswer, error) {
	values, err := result.ToArray()
	if err != nil {
		return presenceAnswer{}, err
	}
	if len(values) < 3 {
		return presenceAnswer{}, errMalformed
	}
	empty, err := values[0].AsInt64()
	if err != nil {
		return presenceAnswer{}, err
	}
	changed, err := values[1].AsInt64()
	if err != nil {
		return presenceAnswer{}, err
	}
	joins, err := values[2].AsInt64()
	if err != nil || joins < 0 || int(joins) > len(values)-3 {
		return presenceAnswer{}, errMalformed
	}
	users := make([]string, len(values)-3)
	for index := range users {
		if users[index], err = values[index+3].ToString(); err != nil {
			return presenceAnswer{}, err
		}
	}
	return presenceAnswer{empty: empty == 1, joined: users[:joins], left: users[joins:], changed: int(changed)}, nil
}

// reportTransitions hands answer's joins and leaves in channel to the Receiver.
func (n *Node) reportTransitions(channel string, answer presenceAnswer) {
	if len(answer.joined) == 0 && len(answer.left) == 0 {
		return
	}
	n.counters.presenceJoins.Add(uint64(len(answer.joined)))
	n.counters.presenceLeaves.Add(uint64(len(answer.left)))
	joined, left := answer.joined, answer.left
	if len(joined) == 0 {
		joined = nil
	}
	if len(left) == 0 {
		left = nil
	}
	n.receiver.PresenceTransitions(channel, joined, left)
}

func containsString(values []string, value string) bool {
	for _, candidate := range values {
		if candidate == value {
			return true
		}
	}
	return false
}
