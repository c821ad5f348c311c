// Package history keeps the streams of history channels: each publication of such a
// channel gets a position (an offset, one more than the previous publication's, and
// the stream's epoch), and the last publications stay readable for a while, so that
// a client that reconnects can be sent what it missed (recovery) or be told that it
// cannot (docs/channels.md, "History and recovery").
//
// Store is the interface the delivery side (package delivery) uses; Memory is the
// store of a single node, bounded per channel by its namespace's history_size and
// history_ttl and node-wide by a byte budget. A cluster keeps its streams in Redis
// (package cluster) behind the same interface.
package history
