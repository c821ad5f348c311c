package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/session"
)

// DefaultConnectHeaders are the request headers the connect callback forwards when
// CallbacksConfig.ConnectHeaders is empty: those that identify a client.
var DefaultConnectHeaders = []string{"Cookie", "Authorization", "User-Agent", "X-Forwarded-For"}

// connector describes upgrade requests to the backend's connect endpoint and turns
// its answers into engine.ConnectDecisions (docs/integration.md, "Connect
// callback"). Safe for concurrent use: it holds only immutable settings.
type connector struct {
	endpoint *callbacks.Endpoint
	// headers are the canonical names of the forwarded headers.
	headers []string
	logger  *slog.Logger
}

func newConnector(endpoint *callbacks.Endpoint, headers []string, logger *slog.Logger) *connector {
	if len(headers) == 0 {
		headers = DefaultConnectHeaders
	}
	canonical := make([]string, len(headers))
	for index, name := range headers {
		canonical[index] = http.CanonicalHeaderKey(name)
	}
	return &connector{endpoint: endpoint, headers: canonical, logger: logger}
}

// connectRequest is the body of the connect callback.
type connectRequest struct {
	RemoteAddr string            `json:"remote_addr"`
	Headers    map[string]string `json:"headers"`
	Query      string            `json:"query"`
	// User is the user of the client's JWT (or ?user_id= in insecure mode).
	User string `json:"user,omitempty"`
}

// connectResult is the backend's "result" that accepts a connection.
type connectResult struct {
	// User replaces the token's user when present.
	User *string `json:"user"`
	// Channels are subscribed on connect, after those of the token.
	Channels []string `json:"channels"`
	// ExpireAt (Unix seconds) replaces the token's expiry when above 0.
	ExpireAt int64 `json:"expire_at"`
	// Data goes to the client in its welcome.
	Data json.RawMessage `json:"data"`
}

// connect implements engine.Config.Connect: the call is queued on a callbacks
// worker and decide runs when it ends, on that worker; when the call cannot even
// be queued (breaker open, queue full), decide runs at once.
func (c *connector) connect(request *http.Request, identity session.Identity, decide func(engine.ConnectDecision)) {
	described := connectRequest{RemoteAddr: request.RemoteAddr, Headers: make(map[string]string, len(c.headers)),
		Query: request.URL.RawQuery, User: identity.UserID}
	for _, name := range c.headers {
		if values := request.Header.Values(name); len(values) > 0 {
			separator := ", "
			if name == "Cookie" {
				separator = "; "
			}
			described.Headers[name] = strings.Join(values, separator)
		}
	}
	// The completion keeps the address, not the request: nothing of the request
	// outlives this call.
	remoteAddr := request.RemoteAddr
	body, err := json.Marshal(described)
	if err == nil {
		err = c.endpoint.Go(body, func(answer callbacks.Answer, err error) {
			decide(c.decision(remoteAddr, identity, answer, err))
		})
	}
	if err != nil {
		decide(c.decision(remoteAddr, identity, callbacks.Answer{}, err))
	}
}

// decision maps the backend's answer, or the call's error, onto what happens to
// the connection: accepted (with the backend's user, channels, expiry and data),
// refused with 4401 (an "error" answer), closed with the backend's code (a
// "disconnect" answer), or closed with 4003 when there was no valid answer.
func (c *connector) decision(remoteAddr string, identity session.Identity, answer callbacks.Answer, err error) engine.ConnectDecision {
	switch {
	case err != nil:
		c.logger.Warn("connect callback failed", "error", err.Error(), "unavailable", callbacks.IsUnavailable(err),
			"remote_addr", remoteAddr)
		return engine.ConnectDecision{Refusal: session.ReasonBackendUnavailable}
	case answer.Error != nil:
		c.logger.Debug("connect refused by the backend", "code", answer.Error.Code, "message", answer.Error.Message,
			"remote_addr", remoteAddr)
		return engine.ConnectDecision{Refusal: session.ReasonUnauthorized}
	case answer.Disconnect != nil:
		return engine.ConnectDecision{CloseCode: uint16(answer.Disconnect.Code), CloseText: answer.Disconnect.Reason}
	}
	accepted, err := acceptedIdentity(identity, answer.Result)
	if err != nil {
		c.logger.Warn("connect callback answered a malformed result", "error", err.Error(), "remote_addr", remoteAddr)
		return engine.ConnectDecision{Refusal: session.ReasonBackendUnavailable}
	}
	return engine.ConnectDecision{Identity: accepted}
}

// errMalformedResult is the error of a "result" that is not the connect callback's.
var errMalformedResult = errors.New(`"result" must be {"user":"<string>","channels":["..."],"expire_at":<unix seconds>,"data":<any>}`)

// acceptedIdentity applies the backend's result to the identity the request's
// credentials gave: its user and expiry replace theirs when present, its channels
// are added to theirs, its data is kept for the welcome; the token's grants stay.
func acceptedIdentity(identity session.Identity, raw json.RawMessage) (session.Identity, error) {
	var result connectResult
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &result) != nil || result.ExpireAt < 0 {
		return session.Identity{}, errMalformedResult
	}
	if result.User != nil {
		identity.UserID = *result.User
	}
	if result.ExpireAt > 0 {
		identity.ExpiresAt = time.Unix(result.ExpireAt, 0)
	}
	if len(result.Channels) > 0 {
		identity.Channels = append(append([]string(nil), identity.Channels...), result.Channels...)
	}
	if len(result.Data) > 0 && string(result.Data) != "null" {
		identity.Data = result.Data
	}
	return identity, nil
}
