package cluster

import (
	"context"
	"errors"

	"github.com/redis/rueidis"
)

// UsersOnline implements delivery.PresenceCluster: how many open connections each
// of userIDs has across the cluster, in order (0: offline), whether or not the
// user is in any channel. It reads the per-user hashes of the cluster-wide limits
// (user:<user>, one field per node), which hold every connection that has a user
// id whenever the node runs in a cluster, limit or no limit (the hub counts each
// one through Acquire; limit 0 counts without refusing). Fields of nodes whose
// lease expired are left out, as the limit leaves them out; this node's own
// connections come from its own counts, which are ahead of Redis by the releases
// not sent yet. At most 1000 users (more fail with ErrTooManyUsers); two round
// trips, each bounded by Config.Timeout and ctx: the live nodes (membersScript),
// then one pipelined HGETALL per user (under Redis Cluster the pipeline is split
// by the users' masters and sent to them at once). While Redis is known to be
// unreachable it fails at once with ErrUnavailable.
func (n *Node) UsersOnline(ctx context.Context, userIDs []string) ([]int, error) {
	if len(userIDs) > maxUsersOnline {
		return nil, ErrTooManyUsers
	}
	counts := make([]int, len(userIDs))
	if len(userIDs) == 0 {
		return counts, nil
	}
	members, err := n.members(ctx, "live")
	if err != nil {
		n.counters.presenceQueryFailures.Add(1)
		return nil, err
	}
	live := make(map[string]bool, len(members))
	for _, member := range members {
		if member.tag != n.keys.tag {
			live[member.tag] = true
		}
	}
	commands := make(rueidis.Commands, 0, len(userIDs))
	for _, userID := range userIDs {
		commands = append(commands, n.client.B().Hgetall().Key(n.keys.user(userID)).Build())
	}
	ctx, cancel := n.call(ctx)
	results := n.client.DoMulti(ctx, commands...)
	cancel()
	for _, result := range results {
		if err := result.Error(); err != nil {
			n.observe(err)
			n.counters.presenceQueryFailures.Add(1)
			return nil, errors.Join(ErrUnavailable, err)
		}
	}
	n.observe(nil)
	a := &n.admission
	a.mutex.Lock()
	for index, userID := range userIDs {
		counts[index] = a.counts[userID]
	}
	a.mutex.Unlock()
	for index := range userIDs {
		fields, err := results[index].AsStrMap()
		if err != nil {
			return nil, err
		}
		for tag, value := range fields {
			if live[tag] {
				counts[index] += atoiOrZero(value)
			}
		}
	}
	n.counters.presenceQueries.Add(1)
	return counts, nil
}
