package auth

import (
	"net/http"
	"strings"
)

// Where a client may put its token. Browsers cannot set headers on a WebSocket
// request, so they offer the token as a subprotocol: new WebSocket(url,
// ["wsgate.v1", "bearer." + token]). The server selects only "wsgate.v1" and never
// echoes the token.
const (
	// SubprotocolTokenPrefix starts the Sec-WebSocket-Protocol value that carries a
	// token: "bearer.<token>". A JWT is base64url segments joined by dots, all of
	// which are valid in a subprotocol name.
	SubprotocolTokenPrefix = "bearer."
	// TokenQueryParameter is the query parameter that may carry a token:
	// /api/v1/ws?token=<token>. Query strings end up in proxies' access logs, so
	// prefer the header or the subprotocol.
	TokenQueryParameter = "token"
)

// TokenFromRequest returns the token a request carries, from the first of these that
// holds one: the "Authorization: Bearer <token>" header, a Sec-WebSocket-Protocol
// value "bearer.<token>", the ?token= query parameter. It returns "" when there is
// none. Safe for concurrent use; it does not modify request.
func TokenFromRequest(request *http.Request) string {
	if token := BearerToken(request.Header.Get("Authorization")); token != "" {
		return token
	}
	for _, line := range request.Header.Values("Sec-WebSocket-Protocol") {
		for value := range strings.SplitSeq(line, ",") {
			if token, found := strings.CutPrefix(strings.TrimSpace(value), SubprotocolTokenPrefix); found && token != "" {
				return token
			}
		}
	}
	return request.URL.Query().Get(TokenQueryParameter)
}

// BearerToken returns the credential of an Authorization header value of the form
// "Bearer <credential>" (the scheme is case-insensitive, RFC 9110 section 11.1), or
// "" for any other value.
func BearerToken(authorization string) string {
	scheme, credential, found := strings.Cut(authorization, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(credential)
}

// Authenticate verifies the token that request carries (see TokenFromRequest) and
// returns its holder's identity; ErrNoToken when there is none. Safe for concurrent
// use.
func (v *Verifier) Authenticate(request *http.Request) (Identity, error) {
	return v.Verify(TokenFromRequest(request))
}
