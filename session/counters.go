package session

import "sync/atomic"

// counters are the hub's running totals, maintained on every change with atomic
// adds (a few nanoseconds each), so reading them never scans connections.
type counters struct {
	accepted         atomic.Uint64
	refused          [reasonCount]atomic.Uint64
	disconnects      [reasonCount]atomic.Uint64
	messagesReceived atomic.Uint64
	bytesReceived    atomic.Uint64
	messagesDropped  atomic.Uint64
	messagesSent     atomic.Uint64
	bytesSent        atomic.Uint64
	broadcasts       atomic.Uint64
	pingsSent        atomic.Uint64
}

// Counters is a snapshot of the hub's totals since it started.
type Counters struct {
	// Accepted counts connections that entered the registry.
	Accepted uint64
	// Refused counts connections refused at Open, by reason (limit, overload,
	// shutdown; the transport adds unauthorized and others through Transport.CountRefused).
	Refused [ReasonCount]uint64
	// Disconnects counts registered connections that ended, by reason.
	Disconnects [ReasonCount]uint64
	// MessagesReceived and BytesReceived count inbound data messages and payload bytes.
	MessagesReceived, BytesReceived uint64
	// MessagesDropped counts inbound messages dropped by the rate limit.
	MessagesDropped uint64
	// MessagesSent and BytesSent count frames queued to connections and their bytes
	// (one broadcast to N connections counts N).
	MessagesSent, BytesSent uint64
	// Broadcasts counts fan-outs to every connection.
	Broadcasts uint64
	// PingsSent counts heartbeat pings.
	PingsSent uint64
}

// Counters returns a snapshot of the running totals in O(reasons). Safe for
// concurrent use; the fields are read one by one, so they may be a few events apart.
func (h *Hub) Counters() Counters {
	var snapshot Counters
	snapshot.Accepted = h.counters.accepted.Load()
	for index := range snapshot.Refused {
		snapshot.Refused[index] = h.counters.refused[index].Load()
		snapshot.Disconnects[index] = h.counters.disconnects[index].Load()
	}
	snapshot.MessagesReceived = h.counters.messagesReceived.Load()
	snapshot.BytesReceived = h.counters.bytesReceived.Load()
	snapshot.MessagesDropped = h.counters.messagesDropped.Load()
	snapshot.MessagesSent = h.counters.messagesSent.Load()
	snapshot.BytesSent = h.counters.bytesSent.Load()
	snapshot.Broadcasts = h.counters.broadcasts.Load()
	snapshot.PingsSent = h.counters.pingsSent.Load()
	return snapshot
}
