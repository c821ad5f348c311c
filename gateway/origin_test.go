package gateway_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// dialOrigin connects with origin ("" sends no Origin header) and returns the HTTP
// status of the upgrade (101 on success).
func (n *node) dialOrigin(origin string) int {
	n.t.Helper()
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	conn, response, err := n.dialWith(nil, header)
	if err != nil {
		if response == nil || !errors.Is(err, websocket.ErrBadHandshake) {
			n.t.Fatalf("dial with origin %q: %v", origin, err)
		}
		return response.StatusCode
	}
	_ = conn.Close()
	return response.StatusCode
}

func TestDefaultOriginPolicyAcceptsNoOriginAndSameOriginOnly(t *testing.T) {
	n := startNode(t, gateway.Config{})
	self := "http://" + n.Addr().String()
	tests := map[string]int{
		"":                             http.StatusSwitchingProtocols,
		self:                           http.StatusSwitchingProtocols,
		"https://" + n.Addr().String(): http.StatusSwitchingProtocols,
		"https://evil.example":         http.StatusForbidden,
		"http://127.0.0.1:1":           http.StatusForbidden,
		"null":                         http.StatusForbidden,
	}
	refused := 0
	for origin, want := range tests {
		if got := n.dialOrigin(origin); got != want {
			t.Errorf("origin %q: status %d, want %d", origin, got, want)
		}
		if want == http.StatusForbidden {
			refused++
		}
	}
	if got := n.Hub.Counters().Refused[session.ReasonOrigin]; got != uint64(refused) {
		t.Fatalf("Refused[origin] = %d, want %d", got, refused)
	}
}

func TestAllowedOriginsAreAcceptedBesidesSameOrigin(t *testing.T) {
	n := startNode(t, gateway.Config{AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000"}})
	tests := map[string]int{
		"https://app.example.com":      http.StatusSwitchingProtocols,
		"https://APP.example.com:443":  http.StatusSwitchingProtocols,
		"http://localhost:3000":        http.StatusSwitchingProtocols,
		"http://" + n.Addr().String():  http.StatusSwitchingProtocols,
		"":                             http.StatusSwitchingProtocols,
		"http://app.example.com":       http.StatusForbidden,
		"https://app.example.com.evil": http.StatusForbidden,
		"http://localhost:3001":        http.StatusForbidden,
	}
	for origin, want := range tests {
		if got := n.dialOrigin(origin); got != want {
			t.Errorf("origin %q: status %d, want %d", origin, got, want)
		}
	}
}

func TestWildcardOriginAcceptsAny(t *testing.T) {
	n := startNode(t, gateway.Config{AllowedOrigins: []string{"*"}})
	for _, origin := range []string{"https://anything.example", "null", "http://127.0.0.1:1"} {
		if got := n.dialOrigin(origin); got != http.StatusSwitchingProtocols {
			t.Errorf("origin %q: status %d, want 101", origin, got)
		}
	}
}

func TestMalformedAllowedOriginIsAStartupError(t *testing.T) {
	for _, entry := range []string{"app.example.com", "https://app.example.com/path", "ftp://x.example", "null"} {
		if _, err := gateway.New(gateway.Config{AllowedOrigins: []string{entry}}); err == nil {
			t.Errorf("gateway.New accepted allowed origin %q", entry)
		}
	}
}
