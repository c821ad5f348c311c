package api

import "github.com/wsgate/wsgate/session"

// reasonSet marks the close reasons that are always reported, with a zero count
// before the first event, so that dashboards and rate() see every series from the
// first scrape. Any other reason is reported once its count is non-zero, so no
// count is ever hidden. Label values come from the CloseReason enum only: the set
// of series is bounded by the enum, never by users or connections.
type reasonSet [session.ReasonCount]bool

func newReasonSet(reasons ...session.CloseReason) *reasonSet {
	var set reasonSet
	for _, reason := range reasons {
		set[reason] = true
	}
	return &set
}

// refusalReasons are the ways a connection is refused before or at registration.
var refusalReasons = newReasonSet(session.ReasonLimit, session.ReasonOverload, session.ReasonUnauthorized,
	session.ReasonOrigin, session.ReasonHandshakeTimeout, session.ReasonShutdown, session.ReasonConnectRate,
	session.ReasonBackendUnavailable, session.ReasonBackendDisconnect)

// disconnectReasons are the ways a registered connection ends.
var disconnectReasons = newReasonSet(session.ReasonClientClose, session.ReasonHeartbeatTimeout,
	session.ReasonSlowConsumer, session.ReasonRateLimited, session.ReasonKicked, session.ReasonTokenExpired,
	session.ReasonShutdown, session.ReasonError, session.ReasonTooBig, session.ReasonInternal)

// each calls visit, in enum order, for every reason in the set and every other
// reason with a non-zero count in counts. It costs O(reasons).
func (set *reasonSet) each(counts *[session.ReasonCount]uint64, visit func(reason session.CloseReason, count uint64)) {
	for index := range counts {
		reason := session.CloseReason(index)
		if reason == session.ReasonNone || (!set[index] && counts[index] == 0) {
			continue
		}
		visit(reason, counts[index])
	}
}

// byName returns the counts each reports, keyed by reason name, for JSON.
func (set *reasonSet) byName(counts *[session.ReasonCount]uint64) map[string]uint64 {
	named := make(map[string]uint64, session.ReasonCount)
	set.each(counts, func(reason session.CloseReason, count uint64) { named[reason.String()] = count })
	return named
}
