package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

func TestShutdownClosesEveryConnectionWith1001(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conns := []*websocket.Conn{n.dial(""), n.dial(""), n.dial("")}
	waitFor(t, readTimeout, "three connections", func() bool { return n.Hub.ConnectionCount() == 3 })
	results := make(chan string, len(conns))
	for _, conn := range conns {
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
			_, _, err := conn.ReadMessage()
			if closeError, ok := err.(*websocket.CloseError); ok && closeError.Code == websocket.CloseGoingAway &&
				closeError.Text == "server shutting down" {
				results <- ""
				return
			}
			results <- err.Error()
		}()
	}
	started := time.Now()
	if cut := n.Shutdown(5 * time.Second); cut != 0 {
		t.Fatalf("%d connections cut without a close handshake", cut)
	}
	if took := time.Since(started); took > 4*time.Second {
		t.Fatalf("shutdown took %v", took)
	}
	for range conns {
		if problem := <-results; problem != "" {
			t.Fatalf("client saw %s, want close 1001 \"server shutting down\"", problem)
		}
	}
}

// TestShutdownCutsClientsThatNeverAnswer: a client that does not answer the close
// frame is cut after the close grace, so shutdown is bounded.
func TestShutdownCutsClientsThatNeverAnswer(t *testing.T) {
	n := startNode(t, gateway.Config{})
	n.dial("") // never read: gorilla answers a close frame only while reading
	waitFor(t, readTimeout, "one connection", func() bool { return n.Hub.ConnectionCount() == 1 })
	started := time.Now()
	n.Shutdown(10 * time.Second)
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("shutdown took %v with an unresponsive client; the close grace is 2s", took)
	}
}

// TestValidateNamesTheSettingOnce: every part's configuration is checked by that
// part's Validate, reached through gateway.Config.Validate before anything starts.
func TestValidateNamesTheSettingOnce(t *testing.T) {
	for want, config := range map[string]gateway.Config{
		"session: Config.MaxConnectionsPerUser is -2": {Session: session.Config{MaxConnectionsPerUser: -2}},
		"session: Config.PingInterval is -2s":         {Session: session.Config{PingInterval: -2 * time.Second}},
		"engine: Config.MaxMessageSize is negative":   {Engine: engine.Config{MaxMessageSize: -1}},
		"cluster: Config.Lease is 100ms":              {Cluster: cluster.Config{RedisURL: "redis://127.0.0.1:1", Lease: 100 * time.Millisecond}},
		"cluster: Config.RedisURL":                    {Cluster: cluster.Config{RedisURL: "http://not-redis"}},
		"gateway: Config.JWT":                         {JWT: auth.Config{Issuer: "me"}},
		"gateway: Config.InsecureUserID":              {InsecureUserID: true, JWT: auth.Config{Secret: make([]byte, 32)}},
	} {
		err := config.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Validate() = %v, want an error starting %q", err, want)
		}
		if _, err := gateway.New(config); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("New: %v, want the same error as Validate", err)
		}
	}
	if err := (gateway.Config{Session: session.Config{MaxConnectionsPerUser: session.Unlimited, PingInterval: session.Off}}).Validate(); err != nil {
		t.Errorf("Unlimited and Off refused: %v", err)
	}
}

// TestNewRefusesInvalidNamespaces: a library user gets the same startup error as the
// binary's configuration file, naming the namespace and the option, before anything
// listens.
func TestNewRefusesInvalidNamespaces(t *testing.T) {
	tests := map[string]struct {
		namespaces []channels.NamespaceOptions
		want       string
	}{
		"bad subscribe mode": {[]channels.NamespaceOptions{{Name: "chat", Subscribe: "everyone"}},
			`gateway: Config.Namespaces: namespace "chat": subscribe: "everyone" is not one of anyone, authenticated, token`},
		"negative max subscribers": {[]channels.NamespaceOptions{{Name: "news", MaxSubscribers: -1}},
			`gateway: Config.Namespaces: namespace "news": max_subscribers: -1 is negative (0 means unlimited)`},
		"listed twice": {[]channels.NamespaceOptions{{Name: "chat"}, {Name: "chat", Publish: channels.PublishSubscribers}},
			`gateway: Config.Namespaces: namespace "chat": name: the namespace is listed twice`},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := gateway.New(gateway.Config{Namespaces: test.namespaces, Engine: engine.Config{Addr: "127.0.0.1:0"}})
			if err == nil || err.Error() != test.want {
				t.Fatalf("gateway.New: %v, want %q", err, test.want)
			}
		})
	}
}

// TestNewAcceptsNamespacesInBothAuthenticationModes: valid options, a personal
// namespace among them, start a node with and without JWT.
func TestNewAcceptsNamespacesInBothAuthenticationModes(t *testing.T) {
	namespaces := []channels.NamespaceOptions{
		{Name: "chat", Subscribe: channels.SubscribeAuthenticated, Publish: channels.PublishSubscribers, MaxSubscribers: 100},
		{Name: "inbox", Personal: true},
		{Name: ""},
	}
	startNode(t, gateway.Config{Namespaces: namespaces, MaxSubscriptionsPerConnection: -1})
	startNode(t, gateway.Config{Namespaces: namespaces, JWT: auth.Config{Secret: []byte(testJWTSecret)}, EveryClientMayBroadcast: true})
}
