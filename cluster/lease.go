package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// A node's lease is its deadline in the nodes index, Config.Lease ahead of Redis's
// clock, renewed every Lease/3 together with the node's totals. A node that stops
// renewing drops out of the totals within Lease. Its fields in the users' hashes stop
// counting when the other nodes learn that its lease expired, at their next renewal
// (renewScript returns the expired nodes; acquireScript, confined to the user's
// slot, cannot look leases up): within Lease plus Lease/3. The next live node to
// renew then sweeps them (sweep), outside any script, since they lie in every slot.

// pipelineBatch is how many commands go to Redis in one pipelined write.
const pipelineBatch = 1000

// sweepBatch is how many of a node's user fields one sweep or leave step deletes:
// enough to clear a crashed node with 100,000 users within a
// minute of sweeps, short enough not to stall Redis (about a millisecond).
const sweepBatch = 1000

// sweepBatchText is sweepBatch as a script argument (presence's sweep takes it).
const sweepBatchText = "1000"

// probeInterval is how often the maintenance goroutine pings Redis while it is
// unreachable: requests fail at once meanwhile (see Node.available) and resume at
// most this long (plus one ping) after Redis answers again.
const probeInterval = 100 * time.Millisecond

// maintainLoop is the maintenance goroutine: it sends releases as they come, probes
// Redis while it is unreachable and, every Lease/3 and as soon as Redis is back
// (requestRenewal), renews the lease, rewrites stale counts and sweeps after a dead
// node. Being one goroutine, releases and rewrites never race each other.
func (n *Node) maintainLoop() {
	defer n.workers.Done()
	renewal := time.NewTicker(n.config.Lease / 3)
	defer renewal.Stop()
	probe := time.NewTicker(probeInterval)
	defer probe.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.admission.wake:
			n.flushReleases()
		case <-probe.C:
			if !n.reachable.Load() {
				ctx, cancel := n.call(context.Background())
				n.observe(n.client.Do(ctx, n.client.B().Ping().Build()).Error())
				cancel()
			}
		case <-renewal.C:
			n.flushReleases()
			n.renew()
		case <-n.renewNow:
			n.flushReleases()
			n.renew()
		}
	}
}

// renew writes the lease with the node's totals and learns which nodes are dead.
// When the lease had to be created anew, every count of this node is rewritten, at
// this renewal and the next (a sweep of this node by another may have been in
// flight, deleting counts as they were rewritten); stale counts are rewritten in
// any case, and one dead node is swept.
func (n *Node) renew() {
	ctx, cancel := n.call(context.Background())
	answer, err := renewScript.Exec(ctx, n.client, []string{n.keys.nodes, n.keys.leases}, []string{
		n.keys.tag, strconv.FormatInt(n.config.Lease.Milliseconds(), 10),
		strconv.Itoa(n.hub.ConnectionCount()) + " " + strconv.Itoa(n.hub.UserCount()) + " " + n.id,
	}).AsStrSlice()
	cancel()
	n.observe(err)
	if err != nil {
		return
	}
	if len(answer) == 0 {
		n.observe(errMalformed)
		return
	}
	dead := answer[1:]
	n.dead.Store(&dead)
	if answer[0] == "0" {
		if !n.rewriteAll.Swap(true) {
			n.logger.Warn("lease had expired or Redis lost its data; rewriting this node's counts")
		}
		n.rewriteAgain = true
	} else if n.rewriteAgain {
		n.rewriteAgain = false
		n.rewriteAll.Store(true)
	}
	n.rewriteStale()
	if len(dead) > 0 {
		n.sweep(dead[0])
	}
}

// sweep cleans up after node tag, whose lease expired: it deletes up to a batch of
// its user fields, each user's HDEL in that user's slot, and the node from the index
// once none are left. Any live node runs it; running it twice does no harm: a field
// is forgotten from the dead node's set only after its HDEL succeeded.
func (n *Node) sweep(tag string) {
	usersKey := nodeUsersKey(n.keys.prefix, tag)
	ctx, cancel := n.call(context.Background())
	defer cancel()
	users, err := n.client.Do(ctx, n.client.B().Srandmember().Key(usersKey).Count(sweepBatch).Build()).AsStrSlice()
	n.observe(err)
	if err != nil {
		return
	}
	if len(users) == 0 {
		n.observe(forgetScript.Exec(ctx, n.client, []string{n.keys.nodes, n.keys.leases}, []string{tag, "0"}).Error())
		return
	}
	if n.deleteFields(ctx, tag, users) {
		n.observe(n.client.Do(ctx, n.client.B().Srem().Key(usersKey).Member(users...).Build()).Error())
	}
}

// deleteFields deletes node tag's field from each user's hash, in one pipelined
// write, and reports whether every deletion succeeded.
func (n *Node) deleteFields(ctx context.Context, tag string, users []string) bool {
	commands := make(rueidis.Commands, len(users))
	for index, userID := range users {
		commands[index] = n.client.B().Hdel().Key(n.keys.user(userID)).Field(tag).Build()
	}
	succeeded := true
	for _, result := range n.client.DoMulti(ctx, commands...) {
		n.observe(result.Error())
		succeeded = succeeded && result.Error() == nil
	}
	return succeeded
}

// deadNodes returns the tags of the nodes whose lease had expired at this node's
// last renewal.
func (n *Node) deadNodes() []string {
	if dead := n.dead.Load(); dead != nil {
		return *dead
	}
	return nil
}

// execBatch runs script once per call in one pipelined write and returns the
// results.
func (n *Node) execBatch(script *rueidis.Lua, calls []rueidis.LuaExec) []rueidis.RedisResult {
	ctx, cancel := n.call(context.Background())
	defer cancel()
	results := script.ExecMulti(ctx, n.client, calls...)
	for _, result := range results {
		n.observe(result.Error())
	}
	return results
}

// Totals returns the cluster's totals: how many nodes are live (this one included),
// their open connections, and the sum over them of each node's users (a user
// connected to two nodes counts twice). This node's figures are live; the others'
// come from their leases, at most Lease/3 old, and a node whose lease expired is not
// counted. One Redis call, bounded by Config.Timeout and ctx.
func (n *Node) Totals(ctx context.Context) (nodes, connections, users int, err error) {
	members, err := n.members(ctx, "live")
	if err != nil {
		return 0, 0, 0, err
	}
	nodes, connections, users = 1, n.hub.ConnectionCount(), n.hub.UserCount()
	for _, member := range members {
		if member.tag == n.keys.tag || !member.hasTotals {
			continue
		}
		nodes++
		connections += member.connections
		users += member.users
	}
	return nodes, connections, users, nil
}

// member is a node of the index as membersScript lists it.
type member struct {
	tag, id            string
	connections, users int
	hasTotals          bool
	// leaseLeft is how long its lease lives without renewal; negative once expired.
	leaseLeft time.Duration
}

// members runs membersScript ("live" or "all" nodes) and parses its answer.
func (n *Node) members(ctx context.Context, which string) ([]member, error) {
	if !n.available() {
		return nil, errors.Join(ErrUnavailable, errOutage)
	}
	ctx, cancel := n.call(ctx)
	values, err := membersScript.Exec(ctx, n.client, []string{n.keys.nodes, n.keys.leases}, []string{which}).AsStrSlice()
	cancel()
	n.observe(err)
	if err != nil {
		return nil, errors.Join(ErrUnavailable, err)
	}
	if len(values)%3 != 1 {
		return nil, errMalformed
	}
	now, err := strconv.ParseFloat(values[0], 64)
	if err != nil {
		return nil, errMalformed
	}
	members := make([]member, 0, len(values)/3)
	for start := 1; start < len(values); start += 3 {
		deadline, err := strconv.ParseFloat(values[start+1], 64)
		if err != nil {
			return nil, errMalformed
		}
		entry := member{tag: values[start], leaseLeft: time.Duration(deadline-now) * time.Millisecond}
		if fields := strings.SplitN(values[start+2], " ", 3); len(fields) == 3 {
			entry.connections, entry.users, entry.id, entry.hasTotals = atoiOrZero(fields[0]), atoiOrZero(fields[1]), fields[2], true
		}
		members = append(members, entry)
	}
	return members, nil
}
