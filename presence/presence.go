// Package presence holds the value types of channel presence that the delivery
// layer (which keeps this node's presence) and the cluster layer (which keeps the
// cluster's in Redis) exchange: who is present in a channel, with how many
// connections, one page at a time.
package presence

import "errors"

// ErrInvalidCursor is the error of a presence page asked with a cursor that no
// page returned; the cluster's pages return it (wrapped or not), so that callers
// can tell a client's mistake from Redis being unavailable with errors.Is.
var ErrInvalidCursor = errors.New("presence: invalid cursor")

// MaxPageSize is the most users one Page holds; a larger limit is cut to it.
const MaxPageSize = 1000

// DefaultPageSize is the page size when a request names none.
const DefaultPageSize = 100

// Page is one page of a channel's presence: the users present with their numbers
// of connections subscribed to the channel, the channel's totals, and the cursor
// of the next page ("" on the last one). A cursor is opaque to callers; pages
// walked with it list every user present throughout the walk exactly once (users
// joining or leaving during it may or may not appear). A value type.
type Page struct {
	Users            map[string]int
	TotalUsers       int
	TotalConnections int
	Cursor           string
}

// Change is one user's presence change in one channel on one node: Connections is
// the number of the user's connections subscribed to the channel on that node after
// the change (0: the user left the channel there). A value type.
type Change struct {
	Channel     string
	User        string
	Connections int
}
