package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/presence"
)

// Presence queries (presence.go): read from Redis only, each one call.

// Presence implements delivery.PresenceCluster: one page of channel's users in
// name order with their connections across the cluster, and the channel's totals.
// limit is cut to 1..presence.MaxPageSize (0 or less: presence.DefaultPageSize). A
// cursor that no page returned fails with presence.ErrInvalidCursor. One Redis call of
// O(log users + limit), bounded by Config.Timeout and ctx; while Redis is known
// to be unreachable it fails at once with ErrUnavailable. The page reflects what
// the nodes wrote: each node's latest changes reach Redis within a round trip or
// two, a crashed node's users leave within Lease plus Lease/3.
func (n *Node) Presence(ctx context.Context, channel string, limit int, cursor string) (presence.Page, error) {
	if limit <= 0 {
		limit = presence.DefaultPageSize
	}
	limit = min(limit, presence.MaxPageSize)
	start := "-"
	if cursor != "" {
		after, ok := strings.CutPrefix(cursor, cursorMark)
		if !ok {
			return presence.Page{}, presence.ErrInvalidCursor
		}
		start = "(" + after
	}
	if !n.available() {
		n.counters.presenceQueryFailures.Add(1)
		return presence.Page{}, errors.Join(ErrUnavailable, errOutage)
	}
	ctx, cancel := n.call(ctx)
	values, err := presencePageScript.Exec(ctx, n.client, n.keys.presenceQueryKeys(channel),
		[]string{start, strconv.Itoa(limit + 1)}).ToArray()
	cancel()
	n.observe(err)
	if err != nil {
		n.counters.presenceQueryFailures.Add(1)
		return presence.Page{}, errors.Join(ErrUnavailable, err)
	}
	n.counters.presenceQueries.Add(1)
	return parsePage(values, limit)
}

// parsePage reads presencePageScript's {{users, connections}, {user, ...},
// {count, ...}}, which holds up to limit+1 users: the last one only tells that
// more follow. A user without a total (the keys disagree, which the scripts never
// leave) is left out.
func parsePage(values []rueidis.RedisMessage, limit int) (presence.Page, error) {
	if len(values) != 3 {
		return presence.Page{}, fmt.Errorf("cluster: presence page answered %d values; want 3", len(values))
	}
	stats, err := values[0].ToArray()
	if err != nil || len(stats) != 2 {
		return presence.Page{}, errMalformed
	}
	members, err := values[1].AsStrSlice()
	if err != nil {
		return presence.Page{}, err
	}
	counts, err := values[2].ToArray()
	if err != nil || len(counts) != len(members) {
		return presence.Page{}, errMalformed
	}
	page := presence.Page{TotalUsers: nilOrInt(stats[0]), TotalConnections: nilOrInt(stats[1])}
	if len(members) > limit {
		members = members[:limit]
		page.Cursor = cursorMark + members[limit-1]
	}
	page.Users = make(map[string]int, len(members))
	for index, user := range members {
		if count := nilOrInt(counts[index]); count > 0 {
			page.Users[user] = count
		}
	}
	return page, nil
}

// PresenceStats implements delivery.PresenceCluster: channel's distinct users and
// connections across the cluster, read from two counters (one HMGET). Bounded by
// Config.Timeout and ctx; fails at once with ErrUnavailable while Redis is known
// to be unreachable.
func (n *Node) PresenceStats(ctx context.Context, channel string) (users, connections int, err error) {
	if !n.available() {
		n.counters.presenceQueryFailures.Add(1)
		return 0, 0, errors.Join(ErrUnavailable, errOutage)
	}
	ctx, cancel := n.call(ctx)
	values, err := n.client.Do(ctx, n.client.B().Hmget().Key(n.keys.presenceStats(channel)).
		Field("users", "connections").Build()).ToArray()
	cancel()
	n.observe(err)
	if err != nil {
		n.counters.presenceQueryFailures.Add(1)
		return 0, 0, errors.Join(ErrUnavailable, err)
	}
	if len(values) != 2 {
		return 0, 0, errMalformed
	}
	n.counters.presenceQueries.Add(1)
	return nilOrInt(values[0]), nilOrInt(values[1]), nil
}

// nilOrInt reads a whole number Redis returned, 0 for nil or anything else.
func nilOrInt(value rueidis.RedisMessage) int {
	number, err := value.AsInt64()
	if err != nil {
		return 0
	}
	return int(number)
}
