// Package gateway assembles a wsgate node: the session hub, the HTTP API and the nbio
// engine, wired the way cmd/wsgate runs them. Tests and embedders start a whole node
// with it.
package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/session"
)

// Config configures a node. Zero values mean the defaults documented on the
// session, engine and api configurations.
type Config struct {
	// Session configures the registry, limits and heartbeat. Its Logger defaults to
	// Logger.
	Session session.Config
	// Engine configures the listener and transport. Identify, Handler and Logger are
	// set by the gateway.
	Engine engine.Config
	// InsecureUserID trusts the ?user_id= query parameter as the user's identity
	// (development and tests only). Default false: connections are anonymous.
	InsecureUserID bool
	// Logger receives every log. Default slog.Default().
	Logger *slog.Logger
}

// Gateway is one running node. Its methods are safe for concurrent use.
type Gateway struct {
	Hub    *session.Hub
	Server *engine.Server

	shutdownOnce sync.Once
	cut          int
}

// New builds a node; call Start to listen.
func New(config Config) (*Gateway, error) {
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Session.Logger == nil {
		config.Session.Logger = config.Logger
	}
	hub, err := session.NewHub(config.Session)
	if err != nil {
		return nil, err
	}
	handler, err := api.New(api.Config{Hub: hub, Logger: config.Logger})
	if err != nil {
		hub.Shutdown(0)
		return nil, err
	}
	config.Engine.Handler = handler
	config.Engine.Logger = config.Logger
	if config.InsecureUserID {
		config.Engine.Identify = userIDFromQuery
	}
	server, err := engine.New(config.Engine, hub)
	if err != nil {
		hub.Shutdown(0)
		return nil, err
	}
	return &Gateway{Hub: hub, Server: server}, nil
}

// Start binds the listener and starts serving.
func (g *Gateway) Start() error {
	if err := g.Server.Start(); err != nil {
		g.Hub.Shutdown(0)
		return err
	}
	return nil
}

// Addr returns the bound listening address.
func (g *Gateway) Addr() net.Addr { return g.Server.Addr() }

// Shutdown stops accepting, closes every connection with 1001 "server shutting down",
// waits for them to go (at most timeout), then stops the event loop. It returns how
// many sockets had to be cut without completing the close handshake. Only the first
// call has an effect; later calls return its result.
func (g *Gateway) Shutdown(timeout time.Duration) int {
	g.shutdownOnce.Do(func() {
		started := time.Now()
		g.Server.StopAccepting()
		g.cut = g.Hub.Shutdown(timeout)
		stopContext, cancel := context.WithTimeout(context.Background(), max(timeout-time.Since(started), time.Second))
		defer cancel()
		_ = g.Server.Stop(stopContext)
	})
	return g.cut
}

// userIDFromQuery trusts ?user_id= (see Config.InsecureUserID).
func userIDFromQuery(request *http.Request) (string, session.CloseReason) {
	return request.URL.Query().Get("user_id"), session.ReasonNone
}
