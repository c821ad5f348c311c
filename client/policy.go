package client

import (
	"time"

	"github.com/wsgate/wsgate/protocol"
)

// Close codes of the wsgate protocol (docs/protocol.md, "Close codes"), from the
// protocol package's table.
const (
	// CodeNormal (1000): the client closed. Terminal.
	CodeNormal = protocol.CloseNormal
	// CodeGoingAway (1001): the server is shutting down. Reconnect after a random short delay.
	CodeGoingAway = protocol.CloseGoingAway
	// CodeAbnormal (1006): no close frame; the peer vanished or the transport failed. Back off.
	CodeAbnormal = protocol.CloseAbnormal
	// CodeLimit (1008): the user already holds the per-user connection limit. Back off.
	CodeLimit = protocol.CloseLimit
	// CodeTooBig (1009): a message exceeded the server's size limit. Back off.
	CodeTooBig = protocol.CloseTooBig
	// CodeInternal (1011): an unexpected server error. Back off.
	CodeInternal = protocol.CloseInternal
	// CodeTryAgainLater (1013): the node is full, or took its rate of new connections
	// (-max-connects-per-second). Back off.
	CodeTryAgainLater = protocol.CloseTryAgainLater
	// CodeHeartbeatTimeout (4000): no frame within the ping timeout, sent by the server or
	// detected by this client. Back off.
	CodeHeartbeatTimeout = protocol.CloseHeartbeatTimeout
	// CodeSlowConsumer (4001): the client did not read fast enough. Back off.
	CodeSlowConsumer = protocol.CloseSlowConsumer
	// CodeRateLimited (4002): the client sent over its rate limit. Back off.
	CodeRateLimited = protocol.CloseRateLimited
	// CodeBackendUnavailable (4003): the backend did not answer the connect callback.
	// Back off.
	CodeBackendUnavailable = protocol.CloseBackendUnavailable
	// CodeTokenExpired (4100): the token expired. Get a fresh token, then reconnect.
	CodeTokenExpired = protocol.CloseTokenExpired
	// CodeUnauthorized (4401): missing or invalid credentials. Terminal.
	CodeUnauthorized = protocol.CloseUnauthorized
	// CodeKicked (4403): the backend disconnected the client on purpose. Terminal.
	CodeKicked = protocol.CloseKicked
)

// ClosePolicy is what a Client does after a connection ends with a close code.
type ClosePolicy int

// The close policies, chosen by ClosePolicyOf.
const (
	// PolicyBackoff reconnects after the exponential backoff with full jitter.
	PolicyBackoff ClosePolicy = iota
	// PolicyGoingAway reconnects after a random delay in [0, Options.GoingAwayDelay).
	PolicyGoingAway
	// PolicyRefreshToken asks Options.Token for a fresh token, then backs off.
	PolicyRefreshToken
	// PolicyStop does not reconnect: Run returns a *CloseError.
	PolicyStop
)

// String returns the policy's name: "backoff", "going-away", "refresh-token" or "stop".
func (p ClosePolicy) String() string {
	switch p {
	case PolicyGoingAway:
		return "going-away"
	case PolicyRefreshToken:
		return "refresh-token"
	case PolicyStop:
		return "stop"
	default:
		return "backoff"
	}
}

// ClosePolicyOf returns the policy for a close code, following the protocol
// package's table (protocol.PolicyOf): 1000 and 4400-4499 stop, 4100-4199 refresh
// the token, 1001 reconnects after a short random delay, and every other code backs
// off. It is a pure function, safe for concurrent use.
func ClosePolicyOf(code int) ClosePolicy {
	switch protocol.PolicyOf(code) {
	case protocol.PolicyTerminal:
		return PolicyStop
	case protocol.PolicyRefreshToken:
		return PolicyRefreshToken
	case protocol.PolicyJitter:
		return PolicyGoingAway
	default:
		return PolicyBackoff
	}
}

// backoffDelay is the full-jitter delay before reconnect attempt (1-based):
// random * min(maxDelay, baseDelay * 2^(attempt-1)), with random in [0, 1).
func backoffDelay(attempt int, baseDelay, maxDelay time.Duration, random float64) time.Duration {
	ceiling := baseDelay
	for step := 1; step < attempt && ceiling < maxDelay; step++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, maxDelay)
	return time.Duration(random * float64(ceiling))
}
