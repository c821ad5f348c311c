package dashboard

import "github.com/wsgate/wsgate/session"

// The series the dashboard keeps an hour of, one value a second each. Counts are
// per second (connects, disconnects, messages) or the level at the sample
// (connections, users); latencies are in microseconds and absent in a second
// without any.
const (
	seriesConnections = iota
	seriesUsers
	seriesConnects
	// seriesDisconnects is the first of the disconnect series, one per reason of
	// disconnectReasons in order.
	seriesDisconnects
)

// The series after the disconnects by reason.
const (
	// seriesOtherDisconnects counts disconnects for a reason not in disconnectReasons.
	seriesOtherDisconnects = seriesDisconnects + len(disconnectReasons) + iota
	seriesMessagesIn
	seriesMessagesOut
	seriesFanoutP50
	seriesFanoutP99
	seriesPingP50
	seriesPingP99
	seriesCount
)

// disconnectReasons are the close reasons the disconnect chart shows apart, in
// order: the ways a registered connection ends. A disconnect for any other reason
// (none is expected) counts in the series "disconnects.other", so no count is lost.
var disconnectReasons = [...]session.CloseReason{
	session.ReasonClientClose, session.ReasonError, session.ReasonHeartbeatTimeout, session.ReasonSlowConsumer,
	session.ReasonRateLimited, session.ReasonKicked, session.ReasonTokenExpired, session.ReasonShutdown,
	session.ReasonTooBig, session.ReasonInternal,
}

// seriesNames are the series' names in the stream, in series order.
var seriesNames = func() [seriesCount]string {
	var names [seriesCount]string
	names[seriesConnections], names[seriesUsers], names[seriesConnects] = "connections", "users", "connects"
	for index, reason := range disconnectReasons {
		names[seriesDisconnects+index] = "disconnects." + reason.String()
	}
	names[seriesOtherDisconnects] = "disconnects.other"
	names[seriesMessagesIn], names[seriesMessagesOut] = "messages_in", "messages_out"
	names[seriesFanoutP50], names[seriesFanoutP99] = "fanout_p50_ms", "fanout_p99_ms"
	names[seriesPingP50], names[seriesPingP99] = "ping_p50_ms", "ping_p99_ms"
	return names
}()

// isLatency reports whether a series holds microseconds, sent as milliseconds.
func isLatency(series int) bool { return series >= seriesFanoutP50 }
