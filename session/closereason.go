package session

import (
	"fmt"

	"github.com/wsgate/wsgate/protocol"
)

// CloseReason says why a connection ended or was refused. It is recorded on the
// session, counted per reason and mapped to the WebSocket close code the client
// sees, whose text and reconnect policy come from protocol's close-code table
// (docs/protocol.md shows it). The zero value is ReasonNone.
type CloseReason uint8

// The close reasons; the reconnect policy of each code is protocol.PolicyOf's.
const (
	// ReasonNone means the session is still open.
	ReasonNone CloseReason = iota
	// ReasonClientClose: the client sent a close frame (its own code is echoed).
	ReasonClientClose
	// ReasonError: the transport failed or the peer vanished without a close frame.
	ReasonError
	// ReasonShutdown: the server is shutting down (1001, reconnect with jitter).
	ReasonShutdown
	// ReasonLimit: the user already holds the maximum number of connections (1008).
	ReasonLimit
	// ReasonTooBig: an inbound message exceeded the size limit (1009).
	ReasonTooBig
	// ReasonInternal: an unexpected server error (1011).
	ReasonInternal
	// ReasonOverload: the node is at its connection cap (1013).
	ReasonOverload
	// ReasonHeartbeatTimeout: no frame arrived within the ping timeout (4000).
	ReasonHeartbeatTimeout
	// ReasonSlowConsumer: the client did not read fast enough (4001).
	ReasonSlowConsumer
	// ReasonRateLimited: the client kept sending over its rate limit (4002).
	ReasonRateLimited
	// ReasonTokenExpired: the client's token expired while connected (4100).
	ReasonTokenExpired
	// ReasonUnauthorized: the client presented no valid credentials (4401, terminal).
	ReasonUnauthorized
	// ReasonKicked: the backend disconnected the client on purpose (4403, terminal).
	ReasonKicked
	// ReasonHandshakeTimeout: the socket did not complete a request within the
	// handshake timeout; it is closed without a WebSocket close frame.
	ReasonHandshakeTimeout
	// ReasonOrigin: the upgrade request's Origin is not allowed; refused with HTTP
	// 403 before the upgrade.
	ReasonOrigin
	// ReasonConnectRate: the node took Config.MaxConnectsPerSecond connects in the
	// last second (1013 "too many connects", reconnect with backoff); refused before
	// the credentials are verified.
	ReasonConnectRate
	// ReasonBackendUnavailable: the connect callback's backend did not answer (down,
	// timed out, its circuit breaker open); the client reconnects with backoff (4003).
	ReasonBackendUnavailable
	// ReasonBackendDisconnect: a callback's backend answered "disconnect" (the
	// connect callback, an rpc, a subscribe or publish check); the close code and
	// text are the backend's (any of 4000-4999, see Transport.RefuseWithCode and
	// Session.CloseWithCode), so Code and Text are zero and empty.
	ReasonBackendDisconnect

	reasonCount
)

// ReasonCount is the number of CloseReason values, for arrays indexed by reason.
const ReasonCount = int(reasonCount)

// reasonInfo is what a reason shows: its name in logs and metrics, and the close
// code and text it sends (zero and empty when it ends a connection without a close
// frame).
type reasonInfo struct {
	name string
	code uint16
	text string
}

// reasons maps every reason onto protocol's close-code table, which holds the name,
// the text and the reconnect policy a client follows; the reasons that end a
// connection without any close code name themselves here.
var reasons = [reasonCount]reasonInfo{
	ReasonNone:               {name: "none"},
	ReasonClientClose:        closeCode(protocol.CloseNormal),
	ReasonError:              closeCode(protocol.CloseAbnormal),
	ReasonShutdown:           closeCode(protocol.CloseGoingAway),
	ReasonLimit:              closeCode(protocol.CloseLimit),
	ReasonTooBig:             closeCode(protocol.CloseTooBig),
	ReasonInternal:           closeCode(protocol.CloseInternal),
	ReasonOverload:           closeCode(protocol.CloseTryAgainLater),
	ReasonHeartbeatTimeout:   closeCode(protocol.CloseHeartbeatTimeout),
	ReasonSlowConsumer:       closeCode(protocol.CloseSlowConsumer),
	ReasonRateLimited:        closeCode(protocol.CloseRateLimited),
	ReasonTokenExpired:       closeCode(protocol.CloseTokenExpired),
	ReasonUnauthorized:       closeCode(protocol.CloseUnauthorized),
	ReasonKicked:             closeCode(protocol.CloseKicked),
	ReasonHandshakeTimeout:   {name: "handshake_timeout"},
	ReasonOrigin:             {name: "origin"},
	ReasonConnectRate:        closeCodeNamed(protocol.CloseTryAgainLater, "connect_rate"),
	ReasonBackendUnavailable: closeCode(protocol.CloseBackendUnavailable),
	ReasonBackendDisconnect:  {name: "backend_disconnect"},
}

// closeCode returns the reasonInfo of a code of protocol's table; a code missing
// there is a programming error, caught when the package initializes.
func closeCode(code uint16) reasonInfo {
	entry, found := protocol.LookupCloseCode(code)
	if !found {
		panic(fmt.Sprintf("session: close code %d is not in protocol's table", code))
	}
	return reasonInfo{name: entry.Name, code: entry.Code, text: entry.Text}
}

// closeCodeNamed is closeCode for a code that several reasons send (1013: the node
// is full, or connects come too fast), picking the table's entry by name.
func closeCodeNamed(code uint16, name string) reasonInfo {
	entry, found := protocol.LookupCloseReason(name)
	if !found || entry.Code != code {
		panic(fmt.Sprintf("session: close reason %s with code %d is not in protocol's table", name, code))
	}
	return reasonInfo{name: entry.Name, code: entry.Code, text: entry.Text}
}

func (r CloseReason) info() reasonInfo {
	if int(r) < len(reasons) {
		return reasons[r]
	}
	return reasonInfo{name: fmt.Sprintf("reason(%d)", uint8(r)), code: reasons[ReasonInternal].code,
		text: reasons[ReasonInternal].text}
}

// String returns the reason's snake_case name, used in logs and metric labels.
func (r CloseReason) String() string { return r.info().name }

// Code returns the WebSocket close code sent to the client. For ReasonClientClose it
// is 1000 (the server echoes the client's own code instead); for ReasonError it is
// 1006, which is never sent on the wire; it is 0 for reasons that end a connection
// before the upgrade (handshake timeout, origin) and for ReasonBackendDisconnect,
// whose code is the backend's.
func (r CloseReason) Code() uint16 { return r.info().code }

// Text returns the close frame's reason text, e.g. "Connection limit reached".
func (r CloseReason) Text() string { return r.info().text }
