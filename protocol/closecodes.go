package protocol

import "fmt"

// The close codes of the protocol: those the server sends, and 1006, which clients
// report when a connection ended without a close frame. Codes 4000-4099 ask the client
// to reconnect with backoff, 4100-4199 to reconnect after refreshing its credentials,
// 4400-4499 are terminal (see CloseCodeRanges).
const (
	// CloseNormal (1000): the client closed; the server echoes the client's code.
	CloseNormal = 1000
	// CloseGoingAway (1001): the server is shutting down.
	CloseGoingAway = 1001
	// CloseAbnormal (1006): no close frame; the peer vanished or the transport
	// failed. Never sent on the wire.
	CloseAbnormal = 1006
	// CloseLimit (1008): the user already holds the per-user connection limit.
	CloseLimit = 1008
	// CloseTooBig (1009): an inbound message exceeded the size limit.
	CloseTooBig = 1009
	// CloseInternal (1011): an unexpected server error.
	CloseInternal = 1011
	// CloseTryAgainLater (1013): the node holds its connection cap ("overload"), or
	// took its rate of new connections in the last second ("connect_rate").
	CloseTryAgainLater = 1013
	// CloseHeartbeatTimeout (4000): no frame arrived within the ping timeout.
	CloseHeartbeatTimeout = 4000
	// CloseSlowConsumer (4001): the client did not read fast enough.
	CloseSlowConsumer = 4001
	// CloseRateLimited (4002): the client kept sending over its rate limit.
	CloseRateLimited = 4002
	// CloseBackendUnavailable (4003): the connect callback's backend did not answer
	// (down, too slow, or its circuit breaker open); try again later.
	CloseBackendUnavailable = 4003
	// CloseTokenExpired (4100): the client's token expired while connected.
	CloseTokenExpired = 4100
	// CloseUnauthorized (4401): missing or invalid credentials.
	CloseUnauthorized = 4401
	// CloseKicked (4403): the backend disconnected the client on purpose.
	CloseKicked = 4403
)

// ReconnectPolicy is what a client should do after a close code.
type ReconnectPolicy uint8

// The reconnect policies. Each client names them in its own API (the Go client's
// ClosePolicy, the JS client's closePolicy); their tests hold them to this table.
const (
	// PolicyTerminal: do not reconnect.
	PolicyTerminal ReconnectPolicy = iota
	// PolicyBackoff: reconnect with exponential backoff and full jitter.
	PolicyBackoff
	// PolicyJitter: reconnect soon, after a random delay, so that a restart does not
	// cause a storm.
	PolicyJitter
	// PolicyRefreshToken: obtain fresh credentials, then reconnect.
	PolicyRefreshToken
)

// DefaultPolicy is the policy of a code neither the table nor a range names.
const DefaultPolicy = PolicyBackoff

var policyNames = [...]string{
	PolicyTerminal:     "terminal",
	PolicyBackoff:      "backoff",
	PolicyJitter:       "jitter",
	PolicyRefreshToken: "refresh_token",
}

// String returns the policy's name as docs/protocol.md and closecodes.json use it:
// "terminal", "backoff", "jitter" or "refresh_token".
func (p ReconnectPolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// MarshalText implements encoding.TextMarshaler with String's names.
func (p ReconnectPolicy) MarshalText() ([]byte, error) {
	if int(p) >= len(policyNames) {
		return nil, fmt.Errorf("protocol: unknown reconnect policy %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// CloseCode describes one close code of the protocol.
type CloseCode struct {
	// Code is the WebSocket close code.
	Code uint16 `json:"code"`
	// Name is the snake_case name of the close reason that sends it, as metrics,
	// stats and logs show it (session.CloseReason).
	Name string `json:"name"`
	// Text is the close frame's reason text; empty for 1000 (the server echoes the
	// client's own close) and 1006 (never sent). A kick (4403) may carry the
	// backend's text instead.
	Text string `json:"text"`
	// Policy is what the client should do next.
	Policy ReconnectPolicy `json:"policy"`
}

// CodeRange gives every code from First to Last (inclusive) a policy, for codes the
// table does not name; an entry of the table wins over its range.
type CodeRange struct {
	First  uint16          `json:"first"`
	Last   uint16          `json:"last"`
	Policy ReconnectPolicy `json:"policy"`
}

// closeCodes is the one table of close codes, in code order; docs/protocol.md's
// table, closecodes.json and both clients are tested against it. A code sent for
// several reasons has one entry per reason, all with the same policy (a client only
// sees the code), the first of them its main one (LookupCloseCode).
var closeCodes = [...]CloseCode{
	{CloseNormal, "client_close", "", PolicyTerminal},
	{CloseGoingAway, "shutdown", "server shutting down", PolicyJitter},
	{CloseAbnormal, "error", "", PolicyBackoff},
	{CloseLimit, "limit", "Connection limit reached", PolicyBackoff},
	{CloseTooBig, "too_big", "message too big", PolicyBackoff},
	{CloseInternal, "internal", "internal error", PolicyBackoff},
	{CloseTryAgainLater, "overload", "try again later", PolicyBackoff},
	{CloseTryAgainLater, "connect_rate", "too many connects", PolicyBackoff},
	{CloseHeartbeatTimeout, "heartbeat_timeout", "heartbeat timeout", PolicyBackoff},
	{CloseSlowConsumer, "slow_consumer", "slow consumer", PolicyBackoff},
	{CloseRateLimited, "rate_limited", "rate limited", PolicyBackoff},
	{CloseBackendUnavailable, "backend_unavailable", "backend unavailable", PolicyBackoff},
	{CloseTokenExpired, "token_expired", "token expired", PolicyRefreshToken},
	{CloseUnauthorized, "unauthorized", "unauthorized", PolicyTerminal},
	{CloseKicked, "kicked", "kicked", PolicyTerminal},
}

var closeCodeRanges = [...]CodeRange{
	{4000, 4099, PolicyBackoff},
	{4100, 4199, PolicyRefreshToken},
	{4400, 4499, PolicyTerminal},
}

// CloseCodes returns a copy of the close-code table, in code order.
func CloseCodes() []CloseCode { return append([]CloseCode(nil), closeCodes[:]...) }

// CloseCodeRanges returns a copy of the policy ranges, in code order.
func CloseCodeRanges() []CodeRange { return append([]CodeRange(nil), closeCodeRanges[:]...) }

// LookupCloseCode returns the table's first entry for code and whether there is
// one.
func LookupCloseCode(code uint16) (CloseCode, bool) {
	for _, entry := range closeCodes {
		if entry.Code == code {
			return entry, true
		}
	}
	return CloseCode{}, false
}

// LookupCloseReason returns the table's entry named name (e.g. "connect_rate") and
// whether there is one.
func LookupCloseReason(name string) (CloseCode, bool) {
	for _, entry := range closeCodes {
		if entry.Name == name {
			return entry, true
		}
	}
	return CloseCode{}, false
}

// PolicyOf returns the reconnect policy for any close code a client may see: the
// table's entry, else the range's policy, else DefaultPolicy. It costs a scan of
// the small table.
func PolicyOf(code int) ReconnectPolicy {
	if code >= 0 && code <= 0xffff {
		if entry, found := LookupCloseCode(uint16(code)); found {
			return entry.Policy
		}
	}
	for _, codeRange := range closeCodeRanges {
		if code >= int(codeRange.First) && code <= int(codeRange.Last) {
			return codeRange.Policy
		}
	}
	return DefaultPolicy
}
