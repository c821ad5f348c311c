package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/engine"
)

// The API on a listener of its own (Config.APIAddr) is served by Go's net/http: a
// goroutine per connection, which the API's few backend connections can afford,
// bodies that stream through http.MaxBytesReader instead of being buffered by the
// event loop, and the standard timeouts below.
const (
	// apiReadTimeout bounds reading one request, body included: a 1 MiB body at
	// 50 KB/s.
	apiReadTimeout = 30 * time.Second
	// apiWriteTimeout bounds serving one request and writing its answer; it is
	// the longest CPU profile /debug/pprof/profile can take (less a second).
	apiWriteTimeout = 60 * time.Second
)

// apiServer is the API's own listener. A nil *apiServer (no Config.APIAddr) does
// nothing, so the gateway calls it unconditionally. Its methods are called by
// Gateway.Start and Shutdown, which never run concurrently with each other.
type apiServer struct {
	server   *http.Server
	address  string
	listener net.Listener
	// serving is set by serve; served is closed when Serve has returned.
	serving bool
	served  chan struct{}
}

// newAPIServer returns the API's server for config.APIAddr with handler.
func newAPIServer(config Config, handler http.Handler) *apiServer {
	return &apiServer{address: config.APIAddr, served: make(chan struct{}), server: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cmp.Or(config.Engine.HandshakeTimeout, engine.DefaultHandshakeTimeout),
		ReadTimeout:       apiReadTimeout,
		WriteTimeout:      apiWriteTimeout,
		IdleTimeout:       cmp.Or(config.Engine.IdleTimeout, engine.DefaultIdleTimeout),
		MaxHeaderBytes:    engine.MaxHeaderSize,
		ErrorLog:          slog.NewLogLogger(config.Logger.Handler(), slog.LevelDebug),
	}}
}

// listen binds the listener, so that an address in use fails Start before the
// engine starts.
func (s *apiServer) listen() error {
	if s == nil {
		return nil
	}
	listener, err := net.Listen("tcp", s.address)
	if err != nil {
		return fmt.Errorf("gateway: API listener: %w", err)
	}
	s.listener = listener
	return nil
}

// serve starts serving on the bound listener.
func (s *apiServer) serve() {
	if s == nil {
		return
	}
	s.serving = true
	go func() {
		defer close(s.served)
		_ = s.server.Serve(s.listener)
	}()
}

// addr returns the bound address, or nil.
func (s *apiServer) addr() net.Addr {
	if s == nil || s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// stop closes the listener and the idle connections, lets requests in progress
// finish until ctx is done, then closes what is left and waits for Serve to return.
// Before serve it only closes the listener.
func (s *apiServer) stop(ctx context.Context) {
	switch {
	case s == nil || s.listener == nil:
	case !s.serving:
		_ = s.listener.Close()
	default:
		if err := s.server.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			_ = s.server.Close()
		}
		<-s.served
	}
}
