package session

// A hub that runs in a cluster of nodes asks the cluster before admitting a user's
// connection (package cluster implements Admission over Redis). A single node leaves
// Config.Admission nil. Deliveries across nodes are package delivery's.

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
