package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

func TestTerminalCloseCodesEndRunWithoutFurtherAttempts(t *testing.T) {
	for _, terminal := range []struct {
		code   int
		reason string
	}{
		{client.CodeUnauthorized, "unauthorized"},
		{client.CodeKicked, "kicked"},
		{client.CodeNormal, "done"},
		{4450, "custom terminal"},
	} {
		t.Run(terminal.reason, func(t *testing.T) {
			server := startLocalServer(t, func(conn *websocket.Conn, _ *http.Request, _ int) {
				closeWith(conn, terminal.code, terminal.reason)
			})
			c := startClient(t, fastOptions(server.url()))
			err := c.wait(t, 5*time.Second)
			var closeError *client.CloseError
			if !errors.As(err, &closeError) || closeError.Code != terminal.code || closeError.Reason != terminal.reason {
				t.Fatalf("Run returned %v, want a CloseError %d %q", err, terminal.code, terminal.reason)
			}
			closes := c.of("close")
			if len(closes) != 1 || closes[0].close.Code != terminal.code || closes[0].close.WillReconnect {
				t.Fatalf("close events %+v, want one %d without reconnect", closes, terminal.code)
			}
			if c.count("reconnecting") != 0 || len(server.requestURIs()) != 1 {
				t.Fatalf("%d reconnects and %d connections after a terminal close", c.count("reconnecting"), len(server.requestURIs()))
			}
			if c.State() != client.StateClosed {
				t.Fatalf("state %v, want closed", c.State())
			}
		})
	}
}

func TestTokenExpiredFetchesAFreshTokenThenReconnects(t *testing.T) {
	for _, inQuery := range []bool{false, true} {
		t.Run(map[bool]string{false: "in the Authorization header", true: "in the query"}[inQuery], func(t *testing.T) {
			server := startLocalServer(t, func(conn *websocket.Conn, request *http.Request, _ int) {
				if request.URL.Query().Get("token") == "stale" || request.Header.Get("Authorization") == "Bearer stale" {
					closeWith(conn, client.CodeTokenExpired, "token expired")
					return
				}
				echoUntilClosed(conn)
			})
			tokens := []string{"stale", "fresh"}
			var calls atomic.Int32
			options := fastOptions(server.url())
			options.TokenInQuery = inQuery
			options.Token = func(context.Context) (string, error) {
				return tokens[calls.Add(1)-1], nil
			}
			c := startClient(t, options)
			// Sent only once the second connection is open: a message written to the
			// first one is gone with it (delivery is at most once).
			waitFor(t, 5*time.Second, "the second connection open", func() bool { return c.count("open") == 2 })
			c.echo(t, "with a fresh token")
			if first := c.of("close")[0].close; first.Code != client.CodeTokenExpired || !first.WillReconnect {
				t.Fatalf("first close %+v, want 4100 with reconnect", first)
			}
			wantURIs := []string{"/api/v1/ws", "/api/v1/ws"}
			wantHeaders := []string{"Bearer stale", "Bearer fresh"}
			if inQuery {
				wantURIs = []string{"/api/v1/ws?token=stale", "/api/v1/ws?token=fresh"}
				wantHeaders = []string{"", ""}
			}
			if got := server.requestURIs(); !slices.Equal(got, wantURIs) {
				t.Fatalf("requests %v, want %v", got, wantURIs)
			}
			if got := server.authorizationHeaders(); !slices.Equal(got, wantHeaders) {
				t.Fatalf("Authorization headers %q, want %q", got, wantHeaders)
			}
			if calls.Load() != 2 {
				t.Fatalf("Token called %d times, want 2", calls.Load())
			}
		})
	}
}

func TestFailingTokenIsReportedAndRetriedWithBackoff(t *testing.T) {
	server := startLocalServer(t, func(conn *websocket.Conn, _ *http.Request, _ int) { echoUntilClosed(conn) })
	var calls atomic.Int32
	options := fastOptions(server.url())
	options.Token = func(context.Context) (string, error) {
		if calls.Add(1) == 1 {
			return "", errors.New("auth service down")
		}
		return "good", nil
	}
	c := startClient(t, options)
	c.echo(t, "after a retry")
	errorsSeen := c.of("error")
	if len(errorsSeen) != 1 || errorsSeen[0].err.Error() != "auth service down" {
		t.Fatalf("errors %+v, want the Token failure", errorsSeen)
	}
	if c.count("reconnecting") != 1 || len(server.requestURIs()) != 1 {
		t.Fatalf("%d reconnects, %d connections; want one retry after the failure", c.count("reconnecting"), len(server.requestURIs()))
	}
}

func TestPerUserLimitBacksOffWithGrowingDelaysAndNoReset(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{MaxConnectionsPerUser: 1})
	holder := startClient(t, fastOptions(testsupport.WebSocketURL(node.Addr().String(), testsupport.UserQuery("ada"))))
	waitFor(t, 5*time.Second, "the holder open", func() bool { return holder.count("welcome") == 1 })

	options := fastOptions(testsupport.WebSocketURL(node.Addr().String(), testsupport.UserQuery("ada")))
	options.BaseDelay, options.MaxDelay, options.Rand = 20*time.Millisecond, 160*time.Millisecond, almostOne
	refused := startClient(t, options)
	waitFor(t, 5*time.Second, "six refusals", func() bool { return refused.count("reconnecting") >= 6 })
	first := refused.of("close")[0].close
	if first.Code != client.CodeLimit || first.Reason != "Connection limit reached" || !first.WillReconnect {
		t.Fatalf("close %+v, want 1008 Connection limit reached with reconnect", first)
	}
	var delays []time.Duration
	for _, e := range refused.of("reconnecting")[:6] {
		delays = append(delays, e.delay.Round(time.Millisecond))
	}
	want := []time.Duration{20, 40, 80, 160, 160, 160}
	for index := range want {
		want[index] *= time.Millisecond
	}
	if !slices.Equal(delays, want) {
		t.Fatalf("delays %v, want %v: accepted-then-closed connections must not reset the backoff", delays, want)
	}
	_ = holder.Close()
	waitFor(t, 5*time.Second, "the refused client in", func() bool { return refused.count("welcome") == 1 })
}
