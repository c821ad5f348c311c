package cluster

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// Sweeping presence after dead incarnations (presence.go). Every live node, every
// Lease/3, looks for incarnations whose deadline passed and removes their
// contributions channel by channel, one presenceSweepScript per channel (one slot
// each), pipelined; the users whose total fell to 0 are reported as leaves. Two
// nodes sweeping the same incarnation at once do no harm: a contribution is
// removed, and its leave reported, by whichever script reaches it first. A
// leaving node sweeps its own incarnation the same way.

// sweepPresence sweeps dead incarnations for at most Config.Timeout.
func (n *Node) sweepPresence() {
	if !n.available() {
		return
	}
	deadline := time.Now().Add(n.config.Timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := n.call(context.Background())
		dead, err := presenceDeadScript.Exec(ctx, n.client, []string{n.keys.presenceIndex()}, []string{"1"}).AsStrSlice()
		cancel()
		n.observe(err)
		if err != nil || len(dead) == 0 {
			return
		}
		if _, succeeded := n.sweepIncarnation(dead[0]); !succeeded {
			return
		}
	}
}

// sweepIncarnation removes part of incarnation's contributions (up to
// presenceSweepChannels channels, sweepBatchText users each), and incarnation
// from the index once it holds none. It reports whether incarnation is gone and
// whether the step succeeded.
func (n *Node) sweepIncarnation(incarnation string) (gone, succeeded bool) {
	channelsKey := n.keys.presenceChannels(incarnation)
	ctx, cancel := n.call(context.Background())
	channels, err := n.client.Do(ctx, n.client.B().Srandmember().Key(channelsKey).Count(presenceSweepChannels).Build()).AsStrSlice()
	cancel()
	n.observe(err)
	if err != nil {
		return false, false
	}
	if len(channels) == 0 {
		ctx, cancel := n.call(context.Background())
		err := n.client.Do(ctx, n.client.B().Zrem().Key(n.keys.presenceIndex()).Member(incarnation).Build()).Error()
		cancel()
		n.observe(err)
		return err == nil, err == nil
	}
	executions := make([]rueidis.LuaExec, len(channels))
	for index, channel := range channels {
		executions[index] = rueidis.LuaExec{Keys: n.keys.presenceChannelKeys(channel, incarnation),
			Args: []string{sweepBatchText}}
	}
	ctx, cancel = n.call(context.Background())
	results := presenceSweepScript.ExecMulti(ctx, n.client, executions...)
	cancel()
	succeeded = true
	emptied := make(map[string]bool)
	for index, result := range results {
		n.observe(result.Error())
		answer, err := parsePresenceAnswer(result)
		if err != nil {
			succeeded = false
			continue
		}
		n.counters.presenceSwept.Add(uint64(answer.changed))
		emptied[channels[index]] = answer.empty
		n.reportTransitions(channels[index], answer)
	}
	n.forgetChannels(incarnation, emptied)
	return false, succeeded
}

// leavePresence is a clean exit's part of presence: it removes this node's
// contributions (reporting its users' leaves) and its incarnations, until
// deadline. Only Close calls it, after the presence goroutine stopped.
func (n *Node) leavePresence(deadline time.Time) {
	p := &n.presence
	incarnations := p.retiring
	if p.registered || p.written {
		incarnations = append(incarnations, p.incarnation)
	}
	for _, incarnation := range incarnations {
		for gone := false; !gone; {
			succeeded := false
			if time.Now().Before(deadline) {
				gone, succeeded = n.sweepIncarnation(incarnation)
			}
			if !succeeded {
				n.logger.Warn("could not remove this node's presence cleanly; it expires with its lease",
					"lease", n.config.Lease.String())
				return
			}
		}
	}
}
