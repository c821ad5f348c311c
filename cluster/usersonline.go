package cluster

import (
	"context"
	"errors"
	"strconv"

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
// not sent yet. At most 1000 users (more fail with ErrTooManyUsers); one pipelined
// round trip (TIME, the node index, one HGETALL per user), bounded by
// Config.Timeout and ctx; while Redis is known to be unreachable it fails at once
// with ErrUnavailable.
func (n *Node) UsersOnline(ctx context.Context, userIDs []string) ([]int, error) {
	if len(userIDs) > maxUsersOnline {
		return nil, ErrTooManyUsers
	}
	counts := make([]int, len(userIDs))
	if len(userIDs) == 0 {
		return counts, nil
	}
	if !n.available() {
		n.counters.presenceQueryFailures.Add(1)
		return nil, errors.Join(ErrUnavailable, errOutage)
	}
	commands := make(rueidis.Commands, 0, len(userIDs)+2)
	commands = append(commands, n.client.B().Time().Build(),
		n.client.B().Zrange().Key(n.keys.nodes).Min("0").Max("-1").Withscores().Build())
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
	live, err := liveNodes(results[0], results[1], n.keys.tag)
	if err != nil {
		return nil, err
	}
	a := &n.admission
	a.mutex.Lock()
	for index, userID := range userIDs {
		counts[index] = a.counts[userID]
	}
	a.mutex.Unlock()
	for index := range userIDs {
		fields, err := results[index+2].AsStrMap()
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

// liveNodes reads TIME's answer and the node index's (tags scored by their lease
// deadlines, Unix ms) into the set of other nodes whose lease has not expired.
func liveNodes(clock, index rueidis.RedisResult, self string) (map[string]bool, error) {
	now, err := clock.AsStrSlice()
	if err != nil {
		return nil, err
	}
	if len(now) != 2 {
		return nil, errMalformed
	}
	seconds, secondsErr := strconv.ParseInt(now[0], 10, 64)
	micros, microsErr := strconv.ParseInt(now[1], 10, 64)
	if secondsErr != nil || microsErr != nil {
		return nil, errMalformed
	}
	nowMilliseconds := float64(seconds*1000 + micros/1000)
	nodes, err := index.AsZScores()
	if err != nil {
		return nil, err
	}
	live := make(map[string]bool, len(nodes))
	for _, node := range nodes {
		if node.Member != self && node.Score > nowMilliseconds {
			live[node.Member] = true
		}
	}
	return live, nil
}
