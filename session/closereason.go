package session

import "fmt"

// CloseReason says why a connection ended or was refused. It is recorded on the
// session, counted per reason and mapped to the WebSocket close code the client
// sees (docs/protocol.md has the table). The zero value is ReasonNone.
type CloseReason uint8

// The close reasons. Codes 4000-4099 ask the client to reconnect with backoff,
// 4100-4199 to reconnect after refreshing its credentials, 4400-4499 are terminal.
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

	reasonCount
)

// ReasonCount is the number of CloseReason values, for arrays indexed by reason.
const ReasonCount = int(reasonCount)

// ReconnectPolicy tells a client what to do after a close code.
type ReconnectPolicy uint8

const (
	// PolicyTerminal: do not reconnect.
	PolicyTerminal ReconnectPolicy = iota
	// PolicyBackoff: reconnect with exponential backoff and full jitter.
	PolicyBackoff
	// PolicyJitter: reconnect soon, after a random delay, so a restart does not cause a storm.
	PolicyJitter
	// PolicyRefreshToken: obtain a fresh token, then reconnect.
	PolicyRefreshToken
)

// String returns the policy's name as used in docs/protocol.md.
func (p ReconnectPolicy) String() string {
	switch p {
	case PolicyTerminal:
		return "terminal"
	case PolicyBackoff:
		return "backoff"
	case PolicyJitter:
		return "jitter"
	case PolicyRefreshToken:
		return "refresh_token"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

type reasonInfo struct {
	name   string
	code   uint16
	text   string
	policy ReconnectPolicy
}

var reasons = [reasonCount]reasonInfo{
	ReasonNone:             {"none", 0, "", PolicyTerminal},
	ReasonClientClose:      {"client_close", 1000, "", PolicyTerminal},
	ReasonError:            {"error", 1006, "", PolicyBackoff},
	ReasonShutdown:         {"shutdown", 1001, "server shutting down", PolicyJitter},
	ReasonLimit:            {"limit", 1008, "Connection limit reached", PolicyBackoff},
	ReasonTooBig:           {"too_big", 1009, "message too big", PolicyBackoff},
	ReasonInternal:         {"internal", 1011, "internal error", PolicyBackoff},
	ReasonOverload:         {"overload", 1013, "try again later", PolicyBackoff},
	ReasonHeartbeatTimeout: {"heartbeat_timeout", 4000, "heartbeat timeout", PolicyBackoff},
	ReasonSlowConsumer:     {"slow_consumer", 4001, "slow consumer", PolicyBackoff},
	ReasonRateLimited:      {"rate_limited", 4002, "rate limited", PolicyBackoff},
	ReasonTokenExpired:     {"token_expired", 4100, "token expired", PolicyRefreshToken},
	ReasonUnauthorized:     {"unauthorized", 4401, "unauthorized", PolicyTerminal},
	ReasonKicked:           {"kicked", 4403, "kicked", PolicyTerminal},
	ReasonHandshakeTimeout: {"handshake_timeout", 0, "", PolicyBackoff},
	ReasonOrigin:           {"origin", 0, "", PolicyTerminal},
}

func (r CloseReason) info() reasonInfo {
	if int(r) < len(reasons) {
		return reasons[r]
	}
	return reasonInfo{name: fmt.Sprintf("reason(%d)", uint8(r)), code: 1011, text: "internal error", policy: PolicyBackoff}
}

// String returns the reason's snake_case name, used in logs and metric labels.
func (r CloseReason) String() string { return r.info().name }

// Code returns the WebSocket close code sent to the client. For ReasonClientClose it
// is 1000 (the server echoes the client's own code instead); for ReasonError it is
// 1006, which is never sent on the wire; it is 0 for reasons that end a connection
// before the upgrade (handshake timeout, origin).
func (r CloseReason) Code() uint16 { return r.info().code }

// Text returns the close frame's reason text, e.g. "Connection limit reached".
func (r CloseReason) Text() string { return r.info().text }

// Policy returns what a client should do after this close code.
func (r CloseReason) Policy() ReconnectPolicy { return r.info().policy }

// Reasons returns every reason except ReasonNone, in enum order; for docs and metrics.
func Reasons() []CloseReason {
	list := make([]CloseReason, 0, ReasonCount-1)
	for reason := ReasonClientClose; reason < reasonCount; reason++ {
		list = append(list, reason)
	}
	return list
}
