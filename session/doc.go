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
//     UserSessions, counts, Shutdown; drain.go: Drain, the paced close of every
//     connection (1001 in batches) and its status.
//   - transport.go: Transport, the transport's side: Admit, Open, Refuse, the frame
//     handlers, PeerClosed, Closed, Written; MessageHandler; the inbound
//     accounting and rate limit. connectrate.go: the node's token bucket of new
//     connections that Admit takes from (one atomic word).
//   - session.go: Session (its 192-byte layout), its state word, Send and Close,
//     and the Kind of its timer (the wheel calls it, applications cannot).
//   - shard.go: a shard of the registry; per-user entries in lists by connection
//     count (stats.go reads them for TopUsers).
//   - fanout.go: Broadcast, SendToUser, SendToConnection; multicast.go:
//     SendToSessions, the fan-out to a list (a channel's subscribers).
//   - writer.go: the per-connection outbound queue, the flush workers and the
//     pacing of fan-out rounds; compression.go: the compressed form of a frame for
//     connections that negotiated permessage-deflate (DeflateConn), made at most
//     once per fan-out; fanoutlog.go: the chunks fan-out frames are copied into,
//     so that a queue extends one run of bytes per flush; touch.go: loading the
//     next sessions' cache lines ahead of a fan-out or a flush round.
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
//     events run one at a time, in order): Transport.Admit, Open and Refuse,
//     HandleText, HandleBinary, HandlePing, HandlePong, PeerClosed and Closed. The
//     MessageHandler and Admission.Acquire run there too, and the rate limiter is
//     only touched there.
//   - The transport's write path (inside Conn.Write on a flush worker, or a poller
//     finishing a buffered write): Transport.Written, one atomic add, because it may
//     run under the transport's own connection lock.
//   - The timer wheel's goroutine: the handler of a session's timer (heartbeat
//     pings and timeouts, the end of a close grace) and the token expiry. A
//     session's heartbeat fields (nextPingAt, unansweredSince) are only touched
//     there.
//   - The flush workers (Config.FlushWorkers goroutines, each owning a fixed set of
//     shards): they take a dirty session's queue and write it with Conn.Write,
//     sessions scheduled at once first and fan-out rounds when their pacing timer
//     (one per worker, used by that worker only) is due.
//   - The drain goroutine, one while a Drain runs: it closes a batch of sessions
//     every period and ends with the last one, or when Shutdown stops it.
//   - Any other goroutine (HTTP API handlers, the cluster's Redis subscriber, an
//     embedding program): Broadcast and SendToSessions (which start up to
//     GOMAXPROCS-1 helper goroutines and wait for them; the first that meets a
//     connection with compression compresses the frame for all of them),
//     SendToUser, SendToConnection, Session.Send and Close, Lookup, UserSessions,
//     counts, Counters, TopUsers, Drain and Shutdown. Admission.Release is called
//     from whichever goroutine removes a session from the registry.
//
// # Locks
//
// Five kinds of mutex, never nested, and none of them held across Conn.Write,
// Conn.Close, an Admission or Observer call, the MessageHandler or a log line:
//
//   - shard.mutex (read-write) guards a shard's maps, its dense member list and its
//     per-user lists. A user's connections all live in one shard, so the per-user
//     limit check and the insert are one critical section. Fan-outs and Shutdown
//     copy the member list under the read lock and work outside it.
//   - outbound.queueMutex, one per session, guards its queue. enqueue holds it only
//     to append; the flusher holds it only to take the queue.
//   - flusher.mutex guards a flush worker's two lists: the sessions to write at once
//     and those waiting for the next fan-out round.
//   - fanoutLog.mutex guards the hub's current fan-out log chunk (fanoutlog.go),
//     held only to copy one fan-out frame into it.
//   - drain.mutex guards a drain's status and its goroutine's channels (drain.go);
//     the batches are closed without it.
//
// Besides them, a fan-out's sync.Once (compression.go) makes its compressed frame
// while the other workers of that fan-out wait; it holds no mutex and does no I/O.
// The timer wheel has its own lock, taken inside Schedule and Cancel and released
// before any timer's handler runs, so timer handlers may close sessions and rearm
// timers. Counters (the hub's totals, a shard's connection and user counts, a
// session's unsent bytes and the round trip of its latest ping) are atomics,
// written on change and read without locks.
//
// # The state word
//
// Session.state holds the state in its low byte, the CloseReason in the next and
// the refused flag above them (a session refused before it entered the registry:
// Session.Refused), so that one compare-and-swap decides both who closes and why:
//
//   - open -> closing: the first Close, CloseWithText, CloseWithCode, refusal or
//     PeerClosed wins the swap and unregisters the session with its reason. A
//     server close queues the close frame behind what is queued and turns the
//     session's timer into the close grace, after which the socket is closed if
//     the client has not answered; PeerClosed writes the echo at once and the
//     transport closes the socket.
//   - open -> closed: Transport.Closed when the socket went first (a vanished peer,
//     an oversized message, a transport overflow); it unregisters with the
//     transport's reason.
//   - closing -> closed: Transport.Closed keeps the reason of the close that won.
//
// Closed is final: Transport.Closed runs exactly once per session and then cancels
// its timers. Only an open session accepts frames (Send returns false otherwise);
// the flush workers skip writing to a closed one.
package session
