// Package session is the registry of a wsgate node: its connections and users,
// their limits, the outbound queue of every connection, the heartbeat and the
// node's counters. It knows no transport (package engine drives it through
// Transport and writes through Conn) and no message semantics beyond the heartbeat
// (package protocol encodes the wire format, a MessageHandler such as package
// delivery's publisher decides what a client message does).
//
// # Files
//
//   - config.go: Config, its defaults (the wsgate binary's), Unlimited and Off,
//     Validate.
//   - hub.go: Hub, the application's side: admission and registration, Lookup,
//     UserSessions, counts, Shutdown.
//   - transport.go: Transport, the transport's side: Open, Refuse, the frame
//     handlers, PeerClosed, Closed, Written; MessageHandler; the inbound
//     accounting and rate limit.
//   - session.go: Session, its state word, Send and Close.
//   - shard.go: a shard of the registry; per-user entries in lists by connection
//     count (stats.go reads them for TopUsers).
//   - fanout.go: Broadcast, SendToUser, SendToConnection; multicast.go:
//     SendToSessions, the fan-out to a list (a channel's subscribers).
//   - writer.go: the per-connection outbound queue and the flush workers.
//   - heartbeat.go, expiry.go: the per-connection timers on the hub's timer wheel.
//   - ratelimit.go: the inbound token bucket.
//   - closereason.go: CloseReason, mapped onto protocol's close-code table.
//   - counters.go: running totals; id.go: ConnectionID and NodeTag.
//   - conn.go, admission.go, observer.go: the interfaces the hub needs from the
//     transport, a cluster and metrics.
//
// # Goroutines
//
//   - The transport's handler goroutines (nbio's task pool; one connection's
//     events run one at a time, in order): Transport.Open and Refuse, HandleText,
//     HandleBinary, HandlePing, HandlePong, PeerClosed and Closed. The
//     MessageHandler and Admission.Acquire run there too, and the rate limiter is
//     only touched there.
//   - The transport's write path (inside Conn.Write on a flush worker, or a poller
//     finishing a buffered write): Transport.Written, one atomic add, because it may
//     run under the transport's own connection lock.
//   - The timer wheel's goroutine: Session.OnTimer (heartbeat pings and timeouts,
//     the end of a close grace) and the token expiry. A session's heartbeat fields
//     (nextPingAt, unansweredSince) are only touched there.
//   - The flush workers (Config.FlushWorkers goroutines, each owning a fixed set of
//     shards): they take a dirty session's queue and write it with Conn.Write.
//   - Any other goroutine (HTTP API handlers, the cluster's Redis subscriber, an
//     embedding program): Broadcast and SendToSessions (which start up to
//     GOMAXPROCS-1 helper goroutines and wait for them), SendToUser,
//     SendToConnection, Session.Send and Close, Lookup, UserSessions, counts,
//     Counters and TopUsers. Admission.Release is called from whichever goroutine
//     removes a session from the registry.
//
// # Locks
//
// Four kinds of mutex, never nested, and none of them held across Conn.Write,
// Conn.Close, an Admission or Observer call, the MessageHandler or a log line:
//
//   - shard.mutex (read-write) guards a shard's maps, its dense member list and its
//     per-user lists. A user's connections all live in one shard, so the per-user
//     limit check and the insert are one critical section. Fan-outs and Shutdown
//     copy the member list under the read lock and work outside it.
//   - outbound.queueMutex, one per session, guards its queue. enqueue holds it only
//     to append; the flusher holds it only to take the queue.
//   - flusher.mutex guards a flush worker's dirty list.
//   - drain.mutex guards a drain's status and its goroutine's channels (drain.go);
//     the batches are closed without it.
//
// The timer wheel has its own lock, taken inside Schedule and Cancel and released
// before any OnTimer runs, so timer handlers may close sessions and rearm timers.
// Counters (the hub's totals, a shard's connection and user counts, a session's
// unsent bytes and last-seen clock) are atomics, written on change and read without
// locks.
//
// # The state word
//
// Session.state holds the state in its low byte and the CloseReason in the next,
// so that one compare-and-swap decides both who closes and why:
//
//   - open -> closing: the first Close, CloseWithText, refusal or PeerClosed wins
//     the swap and unregisters the session with its reason. A server close queues
//     the close frame behind what is queued and turns the session's timer into the
//     close grace, after which the socket is closed if the client has not answered;
//     PeerClosed writes the echo at once and the transport closes the socket.
//   - open -> closed: Transport.Closed when the socket went first (a vanished peer,
//     an oversized message, a transport overflow); it unregisters with the
//     transport's reason.
//   - closing -> closed: Transport.Closed keeps the reason of the close that won.
//
// Closed is final: Transport.Closed runs exactly once per session and then cancels
// its timers. Only an open session accepts frames (Send returns false otherwise);
// the flush workers skip writing to a closed one.
package session
