package cluster

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// NodeState is how a node's lease looks from this node.
type NodeState string

// The node states of NodeStatus.State.
const (
	// NodeUp: the node renewed its lease within the last two renewal periods (for
	// this node itself: it reaches Redis and receives the cluster's channels).
	NodeUp NodeState = "up"
	// NodeLate: the lease is alive but the node has missed renewals (it is slow,
	// cut from Redis, or dying); it drops out when the lease expires.
	NodeLate NodeState = "late"
	// NodeDown: the lease expired and the node has not been swept from the index
	// yet; its connections no longer count anywhere.
	NodeDown NodeState = "down"
)

// NodeStatus is one node of the cluster as its lease shows it.
type NodeStatus struct {
	// ID is the node's Config.NodeID.
	ID string `json:"id"`
	// Tag is the node's tag in 12 hex digits, the node part of its connection ids.
	Tag string `json:"tag"`
	// Connections and Users are the node's totals: live for this node, as of its
	// last renewal (at most Lease/3 old) for the others, 0 for a node that is down.
	Connections int `json:"connections"`
	Users       int `json:"users"`
	// LeaseLeftSeconds is how long the lease lives without another renewal, in
	// seconds (millisecond precision); 0 for a node that is down.
	LeaseLeftSeconds float64 `json:"lease_left_seconds"`
	// State says whether the node is up, late or down.
	State NodeState `json:"state"`
	// Self marks this node.
	Self bool `json:"self"`
}

// Nodes lists the cluster's nodes, this one first with its live totals, then the
// others in tag order, each with its state: a node whose lease has less than a
// third of Config.Lease left missed two renewals and is late (the states assume the
// other nodes run with this node's Config.Lease). One Redis call bounded by
// Config.Timeout and ctx, O(nodes); while Redis is unreachable it fails at once
// with ErrUnavailable.
func (n *Node) Nodes(ctx context.Context) ([]NodeStatus, error) {
	members, err := n.members(ctx, "all")
	if err != nil {
		return nil, err
	}
	slices.SortFunc(members, func(left, right member) int { return strings.Compare(left.tag, right.tag) })
	self := NodeStatus{ID: n.id, Tag: n.keys.tag, Connections: n.hub.ConnectionCount(), Users: n.hub.UserCount(),
		State: NodeUp, Self: true}
	if !n.Healthy() {
		self.State = NodeLate
	}
	nodes := []NodeStatus{self}
	for _, entry := range members {
		leaseLeft := entry.leaseLeft
		if entry.tag == n.keys.tag {
			nodes[0].LeaseLeftSeconds = max(leaseLeft, 0).Seconds()
			continue
		}
		status := NodeStatus{ID: entry.id, Tag: entry.tag, Connections: entry.connections, Users: entry.users,
			LeaseLeftSeconds: max(leaseLeft, 0).Seconds()}
		switch {
		case leaseLeft <= 0:
			status.State = NodeDown
			status.Connections, status.Users = 0, 0
		case leaseLeft < n.config.Lease/3:
			status.State = NodeLate
		default:
			status.State = NodeUp
		}
		nodes = append(nodes, status)
	}
	return nodes, nil
}

// atoiOrZero parses a whole number that a script returned, 0 when it is not one.
func atoiOrZero(text string) int {
	value, _ := strconv.Atoi(text)
	return value
}
