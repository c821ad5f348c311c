package session

// A hub that runs in a cluster of nodes (package cluster implements these over Redis)
// asks the cluster before admitting a user's connection and hands client-sent
// broadcasts to it. Neither interface is needed on a single node: leave
// Config.Admission and Config.Relay nil.

// Admission keeps the per-user connection count of the whole cluster. The hub calls
// Acquire before it registers a connection with a user id and Release after that
// connection leaves the registry, so a user cannot exceed the limit by connecting to
// different nodes. Implementations must be safe for concurrent use.
type Admission interface {
	// Acquire counts one more connection for userID if the user holds fewer than limit
	// connections cluster-wide (limit 0: no limit, the connection is still counted) and
	// reports whether it did. It runs on the connecting client's handler goroutine with
	// no hub lock held and may take one network round trip. A non-nil error means the
	// cluster could not decide: the hub then applies its local limit alone (it fails
	// open to the local limit), and the implementation must still count the connection
	// so that the matching Release balances it.
	Acquire(userID string, limit int) (bool, error)
	// Release returns a connection counted by Acquire. It is called from any goroutine
	// (timer wheel, transport, API handlers), sometimes with no client waiting, so it
	// must not block on the network.
	Release(userID string)
}

// Relay carries what one node's clients broadcast to the other nodes. The hub calls
// it from the sending client's handler goroutine after the local fan-out.
// Implementations must be safe for concurrent use.
type Relay interface {
	// RelayBroadcast hands payload, the JSON text of a broadcast message without a frame
	// header, to the other nodes, whose connections all receive it. payload is never
	// modified afterwards, so the relay may keep it. It must not block on the network;
	// it drops (and counts) what it cannot pass on.
	RelayBroadcast(payload []byte)
}
