package cluster

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// A node's lease is the hash node:<tag> with a time to live of Config.Lease, renewed
// every Lease/3 together with the node's totals and its deadline in the nodes index.
// A node that stops renewing drops out within Lease: its fields in the users' hashes
// stop counting at once (the scripts check the lease), and the next live node to
// sweep deletes them.

// pipelineBatch is how many commands go to Redis in one pipelined write.
const pipelineBatch = 1000

// sweepBatchText is how many of a node's user fields one sweep or leave step deletes,
// as a script argument: enough to clear a crashed node with 100,000 users within a
// minute of sweeps, short enough not to stall Redis (about a millisecond).
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

// renew writes the lease with the node's totals. When the lease had to be created
// anew, every count of this node is rewritten; stale counts are rewritten in any
// case, and one dead node is swept.
func (n *Node) renew() {
	ctx, cancel := n.call(context.Background())
	existed, err := renewScript.Exec(ctx, n.client, []string{n.keys.lease, n.keys.nodes}, []string{
		n.keys.tag, strconv.FormatInt(n.config.Lease.Milliseconds(), 10), n.id,
		strconv.Itoa(n.hub.ConnectionCount()), strconv.Itoa(n.hub.UserCount()),
	}).AsInt64()
	cancel()
	n.observe(err)
	if err != nil {
		return
	}
	if existed == 0 && !n.rewriteAll.Swap(true) {
		n.logger.Warn("lease had expired or Redis lost its data; rewriting this node's counts")
	}
	n.rewriteStale()
	ctx, cancel = n.call(context.Background())
	err = sweepScript.Exec(ctx, n.client, []string{n.keys.nodes}, []string{n.keys.prefix, sweepBatchText}).Error()
	cancel()
	n.observe(err)
}

// execBatch runs script once per call in one pipelined write and returns the
// indexes of the calls that failed.
func (n *Node) execBatch(script *rueidis.Lua, calls []rueidis.LuaExec) []int {
	ctx, cancel := n.call(context.Background())
	defer cancel()
	var failed []int
	for index, result := range script.ExecMulti(ctx, n.client, calls...) {
		err := result.Error()
		n.observe(err)
		if err != nil {
			failed = append(failed, index)
		}
	}
	return failed
}

// Totals returns the cluster's totals: how many nodes are live (this one included),
// their open connections, and the sum over them of each node's users (a user
// connected to two nodes counts twice). This node's figures are live; the others'
// come from their leases, at most Lease/3 old, and a node whose lease expired is not
// counted. One Redis call, bounded by Config.Timeout and ctx.
func (n *Node) Totals(ctx context.Context) (nodes, connections, users int, err error) {
	if !n.available() {
		return 0, 0, 0, errors.Join(ErrUnavailable, errOutage)
	}
	ctx, cancel := n.call(ctx)
	values, err := totalsScript.Exec(ctx, n.client, []string{n.keys.nodes}, []string{n.keys.prefix, n.keys.tag}).AsIntSlice()
	cancel()
	n.observe(err)
	if err != nil {
		return 0, 0, 0, errors.Join(ErrUnavailable, err)
	}
	if len(values) != 3 {
		return 0, 0, 0, errMalformed
	}
	return int(values[0]) + 1, int(values[1]) + n.hub.ConnectionCount(), int(values[2]) + n.hub.UserCount(), nil
}
