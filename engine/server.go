// Package engine serves wsgate's WebSocket endpoint and HTTP API on an nbio epoll
// event loop: a fixed number of goroutines however many connections are open. It is
// the only package that imports nbio; it hands connections and their frames to the
// hub through session.Transport and writes through the session.Conn interface.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/mempool"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/wsgate/wsgate/session"
)

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	// Addr is the TCP address to listen on, "host:port" (host may be empty: every
	// interface). Default ":8080"; port 0 picks a free port (see Server.Addr).
	Addr string
	// Path is the WebSocket endpoint. Default "/api/v1/ws", as in the seed.
	Path string
	// MaxMessageSize is the largest inbound message in bytes; a larger one closes the
	// connection with 1009. Default 64 KiB.
	MaxMessageSize int
	// Compression accepts a client's permessage-deflate offer (RFC 7692) in the one
	// form that keeps no state per connection: no context takeover either way
	// (deflateoffer.go). Such a connection's compressed messages are inflated with a
	// pooled decompressor (their inflated size bounded by MaxMessageSize), and it is
	// written compressed frames through session.DeflateConn. Default false: no
	// offer is accepted, and a frame with RSV1 fails the connection with 1002.
	Compression bool
	// HandshakeTimeout cuts sockets that do not complete a request (normally the
	// upgrade) in time. Default 10s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes keep-alive HTTP (API) connections idle this long. Default 60s.
	IdleTimeout time.Duration
	// MaxBodySize is the largest HTTP (API) request body in bytes. nbio buffers a
	// whole request before it is served, so the engine enforces it while reading:
	// a larger Content-Length is answered 413 before any of the body is read, a
	// chunked body once it grows past the limit. Default 1 MiB (DefaultMaxBodySize).
	MaxBodySize int
	// Screen, when set, sees each HTTP request that announces a body once its line
	// and headers have arrived, before the body is read; it returns nil to let the
	// request through, or the handler that answers it at once (then the body is
	// never read and the connection closes after the answer). It runs on the event
	// loop: it must be quick, never block, and be safe for concurrent use. The
	// request has no body and ContentLength -1 when chunked. Nil: every request
	// within MaxBodySize goes through.
	Screen func(request *http.Request) http.Handler
	// SocketSendBuffer sets SO_SNDBUF on every accepted socket, in bytes. Default 0:
	// the kernel autotunes, up to tcp_wmem's maximum (4 MiB here), so a client that
	// stops reading can park megabytes in kernel memory before the hub's
	// MaxPendingBytes bound sees anything. At 1M connections, 16-64 KiB keeps kernel
	// memory predictable at the cost of throughput to slow links.
	SocketSendBuffer int
	// Pollers is the number of epoll goroutines. Default GOMAXPROCS.
	Pollers int
	// Identify returns who an upgrade request is (user id, when its credentials
	// expire, its channel grants: see session.Identity), or a refusal reason (the
	// upgrade is completed and closed at once with that reason's code, because a
	// browser cannot read the HTTP status of a failed upgrade). Nil: anonymous.
	Identify func(request *http.Request) (identity session.Identity, refusal session.CloseReason)
	// Connect, when set, decides about every upgraded connection that Identify did
	// not refuse, asynchronously (the connect callback: see connect.go). It is
	// called on the connection's executor after the 101 is written, with the
	// request and what Identify said; it must not block, and must call decide
	// exactly once, from any goroutine (or from within Connect). Until then the
	// connection is not registered and its inbound frames are held, at most
	// MaxHeldBytes of payload (beyond that the connection is failed with 1009).
	// Nil: connections are registered as soon as Identify accepts them.
	Connect func(request *http.Request, identity session.Identity, decide func(ConnectDecision))
	// MaxHeldBytes bounds the payload bytes of the frames a connection may send
	// while its Connect decision is pending. Default 16 KiB.
	MaxHeldBytes int
	// CheckOrigin reports whether an upgrade request's Origin is allowed. Nil: requests
	// without Origin and same-origin requests only.
	CheckOrigin func(request *http.Request) bool
	// Handler serves every other HTTP route (the API). Nil: 404.
	Handler http.Handler
	// Logger receives logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultAddr             = ":8080"
	DefaultPath             = "/api/v1/ws"
	DefaultMaxMessageSize   = 64 << 10
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultMaxBodySize      = 1 << 20
	DefaultMaxHeldBytes     = 16 << 10
)

// Subprotocol is the WebSocket subprotocol of wsgate's JSON protocol. When a client
// offers it in Sec-WebSocket-Protocol the server selects it; no other offered value
// (such as a "bearer.<token>" credential) is ever echoed back.
const Subprotocol = "wsgate.v1"

// Validate reports the first field of config that New would refuse, by name and
// value: every number and duration must be 0 (its default) or positive.
func (config Config) Validate() error {
	for _, field := range []struct {
		name  string
		value int64
	}{
		{"MaxMessageSize", int64(config.MaxMessageSize)},
		{"HandshakeTimeout", int64(config.HandshakeTimeout)},
		{"IdleTimeout", int64(config.IdleTimeout)},
		{"MaxBodySize", int64(config.MaxBodySize)},
		{"SocketSendBuffer", int64(config.SocketSendBuffer)},
		{"Pollers", int64(config.Pollers)},
		{"MaxHeldBytes", int64(config.MaxHeldBytes)},
	} {
		if field.value < 0 {
			return fmt.Errorf("engine: Config.%s is negative (%d); want 0 (the default) or more", field.name, field.value)
		}
	}
	return nil
}

// heapAllocator gives nbio plain heap buffers instead of its global recycling pool
// (mempool.DefaultMemPool). In v1.6.8 a buffer of that pool could be handed out while
// still in use: the tests saw a connection's parse buffer shrink under it
// ("slice bounds out of range" in websocket.Conn.Parse) and messages vanish, in
// later tests of the same process, because the pool is shared by every engine; a
// pooled BodyReader kept its freed buffers and freed them again. v1.6.12 resets
// pooled body readers, but BodyReader.Close and Read still touch its buffers without
// a lock, so a body read while its request is released frees a buffer twice into a
// pool shared by the whole process. wsgate's frame reader allocates its own
// messages; what remains on this allocator is nbio's write cache (only what the
// kernel did not take at once) and HTTP bodies, slow paths where the pool saves
// little. The cost is an allocation per buffered write or body, left to the garbage
// collector. It replaces the process-wide pool as well (bufferpool.go), which nbhttp's
// answers use whatever the engine is given.
var heapAllocator = mempool.NewSTD()

// pollerStartup is how long after Start nbio's poller goroutines are certainly in
// their loops, which they enter microseconds after it: a Stop right after Start
// waits for the rest of it.
const pollerStartup = 100 * time.Millisecond

// Server is a running WebSocket and HTTP server. Its methods are safe for
// concurrent use.
type Server struct {
	config    Config
	transport *session.Transport
	logger    *slog.Logger
	// engine and upgrader are built by Start once the listener is bound.
	engine   *nbhttp.Engine
	upgrader *upgrader
	// listener is bound by Start before the event loop starts; nil before.
	listener atomic.Pointer[gatedListener]
	// started is set by the first Start; running once the event loop runs, so that
	// Stop after a failed Start has no event loop to stop.
	started atomic.Bool
	running atomic.Bool
	// startedAt is when the event loop started; written before running is set.
	startedAt  time.Time
	handshakes *handshakeTracker
	// fence is set by Start once the pollers run (nil if it could not be built);
	// fenceReady is closed then, and accepted sockets wait for it.
	fence      *reuseFence
	fenceReady chan struct{}
	stopOnce   sync.Once
	stopError  error
}

// New returns a Server for the hub behind transport that is not listening yet; call
// Start.
func New(config Config, transport *session.Transport) (*Server, error) {
	if transport == nil {
		return nil, errors.New("engine: a session.Transport is required")
	}
	if err := config.Validate(); err != nil {
		return nil, err
	}
	hub := transport.Hub()
	config.Addr = cmp.Or(config.Addr, DefaultAddr)
	if _, _, err := net.SplitHostPort(config.Addr); err != nil {
		return nil, fmt.Errorf("engine: Config.Addr %q is not host:port (e.g. :8080 or 127.0.0.1:8080): %w", config.Addr, err)
	}
	config.Path = cmp.Or(config.Path, DefaultPath)
	config.MaxMessageSize = cmp.Or(config.MaxMessageSize, DefaultMaxMessageSize)
	config.MaxHeldBytes = cmp.Or(config.MaxHeldBytes, DefaultMaxHeldBytes)
	config.HandshakeTimeout = cmp.Or(config.HandshakeTimeout, DefaultHandshakeTimeout)
	config.IdleTimeout = cmp.Or(config.IdleTimeout, DefaultIdleTimeout)
	config.MaxBodySize = cmp.Or(config.MaxBodySize, DefaultMaxBodySize)
	config.Pollers = cmp.Or(config.Pollers, runtime.GOMAXPROCS(0))
	config.Logger = cmp.Or(config.Logger, slog.Default())
	config.Handler = cmp.Or(config.Handler, http.NotFoundHandler())
	config.Screen = screenWebSocketPath(config.Path, config.Screen)
	server := &Server{config: config, transport: transport, logger: config.Logger, fenceReady: make(chan struct{})}
	server.handshakes = newHandshakeTracker(hub.Wheel(), config.HandshakeTimeout, func() {
		transport.CountRefused(session.ReasonHandshakeTimeout)
	})
	return server, nil
}

// listen hands nbhttp the listener Start bound before the event loop started. It
// never fails: nbhttp.Engine.Start stops a half-started nbio engine after a listen
// error, and in nbio v1.6.8 that stop can race with the poller goroutines it has just
// started (a poller that enters its loop after the stop clears the stop flag and then
// spins on the stop event, at 100% CPU, forever). Binding first keeps every listen
// error before the event loop exists. nbhttp calls this once (one address, one
// accept goroutine).
func (s *Server) listen(string, string) (net.Listener, error) {
	return s.listener.Load(), nil
}

// Start binds the listening socket, then starts the event loop and serving. A listen
// error (address in use, unresolvable host) returns before any goroutine starts.
// Only the first call may succeed; later calls return an error.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("engine: Start called twice")
	}
	useLogger(s.logger)
	heartbeat := s.transport.Hub().Config().PingInterval > 0
	listenSettings := listenConfig(heartbeat)
	listener, err := listenSettings.Listen(context.Background(), "tcp", s.config.Addr)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	gated := newGatedListener(s.acceptor(listener, !heartbeat))
	s.listener.Store(gated)
	s.newEngine()
	if err := s.engine.Start(); err != nil {
		close(s.fenceReady)
		_ = gated.Close()
		return fmt.Errorf("engine: %w", err)
	}
	fence, err := newReuseFence(s.engine.Engine, s.config.Pollers)
	if err != nil {
		s.logger.Error("accepted sockets are not fenced from the previous socket of their descriptor", "error", err.Error())
	}
	s.fence = fence
	close(s.fenceReady)
	s.startedAt = time.Now()
	s.running.Store(true)
	return nil
}

// acceptor returns the listener nbhttp accepts from: a rawListener on the bound TCP
// listener (Linux), or the listener itself where there is none or it cannot take
// this nbio's connections (see rawListener).
func (s *Server) acceptor(listener net.Listener, keepAlive bool) net.Listener {
	tcp, isTCP := listener.(*net.TCPListener)
	if !isTCP {
		return listener
	}
	raw, err := newRawListener(tcp, keepAlive)
	if err != nil {
		if !errors.Is(err, errors.ErrUnsupported) {
			s.logger.Warn("accepting through Go's net.Listener", "error", err.Error())
		}
		return listener
	}
	return raw
}

// listenConfig returns how the listening socket is opened. With the heartbeat on,
// accepted sockets get no TCP keep-alive: its probes would only find what the pings
// find (a dead peer), at four setsockopt calls per accept (about 4% of a connect's
// CPU) and a kernel timer per idle socket. Without the heartbeat they keep Go's
// default, the only check left.
func listenConfig(heartbeat bool) net.ListenConfig {
	if heartbeat {
		return net.ListenConfig{KeepAlive: -1}
	}
	return net.ListenConfig{}
}

// newEngine builds the nbio engine. Start calls it once the listener is bound: nbhttp
// starts its handler pools as soon as an engine is built and stops them only when the
// engine stops, so a Server that never starts (or fails to listen) starts nothing.
func (s *Server) newEngine() {
	// The read limit bounds what nbhttp buffers of an HTTP request: the request
	// guard bounds its headers and its body, and a body is buffered whole, plus one
	// read. An upgraded connection's frame reader bounds itself by the message size
	// limit.
	readLimit := s.config.MaxBodySize + MaxHeaderSize
	s.engine = nbhttp.NewEngine(nbhttp.Config{
		Network:         "tcp",
		Addrs:           []string{s.config.Addr},
		Listen:          s.listen,
		IOMod:           nbhttp.IOModNonBlocking,
		NPoller:         s.config.Pollers,
		MaxLoad:         1 << 22,
		ReadLimit:       readLimit,
		MaxHTTPBodySize: s.config.MaxBodySize,
		// The hub closes a connection as a slow consumer when its pending bytes pass
		// MaxPendingBytes; nbio's own bound sits above that (one coalesced write more)
		// as a backstop, so nbio never drops a connection the hub still counts as fine.
		MaxWriteBufferSize: s.transport.Hub().Config().MaxPendingBytes + max(s.config.MaxMessageSize, 64<<10) + 1024,
		BodyAllocator:      heapAllocator,
		KeepaliveTime:      s.config.IdleTimeout,
		Handler:            http.HandlerFunc(s.serveHTTP),
	})
	// nbhttp does not pass its allocator down to the nbio engine, whose write caches
	// would otherwise come from the same global pool.
	s.engine.Engine.BodyAllocator = heapAllocator
	s.engine.Engine.OnData(s.onData)
	s.upgrader = newUpgrader(s)
	s.engine.OnWrittenSize(func(conn *nbio.Conn, _ []byte, written int) {
		// Runs under nbio's connection lock: only an atomic add, no writes.
		if connection := sessionOfSocket(conn); connection != nil {
			s.transport.Written(connection, written)
		}
	})
	s.engine.OnOpen(func(conn net.Conn) {
		if nbioConn, ok := conn.(*nbio.Conn); ok {
			if s.config.SocketSendBuffer > 0 {
				_ = nbioConn.SetWriteBuffer(s.config.SocketSendBuffer)
			}
			s.handshakes.opened(nbioConn)
			// Before nbio registers the socket under its descriptor number (right
			// after this callback): see reuseFence.
			<-s.fenceReady
			if s.fence != nil {
				s.fence.wait(nbioConn.Hash())
			}
		}
		publishToPollers()
	})
	observeHandoffs(s.engine.Engine)
	// nbhttp runs this on the socket's executor once it closed, after every job
	// already queued for it: an upgraded connection's session ends here.
	s.engine.OnClose(func(conn net.Conn, err error) {
		if nbioConn, ok := conn.(*nbio.Conn); ok {
			if ws, upgraded := nbioConn.Session().(*wsConn); upgraded {
				ws.closeAndClean(s, err)
			}
			s.handshakes.forget(nbioConn)
		}
	})
}

// Addr returns the bound listening address (useful with port 0), or nil before Start.
func (s *Server) Addr() net.Addr {
	listener := s.listener.Load()
	if listener == nil {
		return nil
	}
	return listener.Addr()
}

// StopAccepting closes the listening socket: new clients are refused by the kernel,
// open connections are untouched. Used first in a graceful shutdown.
func (s *Server) StopAccepting() {
	if listener := s.listener.Load(); listener != nil {
		listener.shut()
	}
}

// Stop closes every remaining socket and stops the event loop, waiting at most until
// ctx is done. It does not send close frames: call Hub.Shutdown first for that. Only
// the first call has an effect; later calls return its result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.StopAccepting()
		if !s.running.Load() {
			return
		}
		// nbhttp's Shutdown, on a timeout while nbio's engine is stopping, returns
		// and leaves that stop running; stopping again after it would run nbio's
		// Stop twice (a negative WaitGroup counter panic). So the engine is stopped
		// exactly once, here, and ctx only bounds the wait. nbio's Stop closes the
		// sockets it holds and waits for each to close, so it must not start while
		// a socket accepted before the gate shut is still on its way to the engine
		// (that one would never close): it starts once the accept loop parked.
		// A poller goroutine that enters its loop after nbio's Stop clears the stop
		// flag and never ends (nbio v1.6.12 still), so the stop also waits until the
		// event loop has run for pollerStartup.
		select {
		case <-s.listener.Load().parked:
		case <-ctx.Done():
		}
		select {
		case <-time.After(time.Until(s.startedAt.Add(pollerStartup))):
		case <-ctx.Done():
		}
		if s.fence != nil {
			s.fence.close()
		}
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			s.engine.Stop()
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			s.stopError = ctx.Err()
		}
	})
	return s.stopError
}

// PendingHandshakes returns the number of sockets that have not completed their first
// request yet.
func (s *Server) PendingHandshakes() int { return s.handshakes.pendingCount() }

// serveHTTP marks the socket's handshake complete and routes the request: GET of the
// WebSocket path to the upgrade, another method of it to a 405 in the API's JSON
// error shape (Allow: GET), everything else to Config.Handler as it came; a HEAD
// gets its answer's headers without the body (headWriter). No
// http.ServeMux sits in between: it would answer a path it considers unclean
// ("/api/v1/users//send") with a redirect of its own, not the API's answer.
func (s *Server) serveHTTP(writer http.ResponseWriter, request *http.Request) {
	if conn := nbioConnOf(writer); conn != nil {
		s.handshakes.completed(conn)
	}
	if request.Method == http.MethodHead {
		head := &headWriter{ResponseWriter: writer}
		defer head.finish()
		writer = head
	}
	if request.URL.Path != s.config.Path {
		s.config.Handler.ServeHTTP(writer, request)
		return
	}
	if request.Method != http.MethodGet {
		refuseMethod(writer, request)
		return
	}
	s.serveWebSocket(writer, request)
}

// refuseMethod answers a request to the WebSocket path with another method than GET.
func refuseMethod(writer http.ResponseWriter, request *http.Request) {
	writer.Header().Set("Allow", http.MethodGet)
	refuseUpgrade(writer, http.StatusMethodNotAllowed, "method_not_allowed",
		request.Method+" is not allowed on "+request.URL.Path+"; allowed: GET (a WebSocket upgrade)")
}

// screenWebSocketPath returns the screen of requests that announce a body: one to
// the WebSocket path gets the path's own answer (405 for a method other than GET,
// before its body is read) rather than the API's, which has no such route; any
// other goes to screen (nil lets every one through).
func screenWebSocketPath(path string, screen func(*http.Request) http.Handler) func(*http.Request) http.Handler {
	return func(request *http.Request) http.Handler {
		switch {
		case request.URL.Path == path && request.Method != http.MethodGet:
			return http.HandlerFunc(refuseMethod)
		case request.URL.Path == path, screen == nil:
			return nil
		}
		return screen(request)
	}
}

// nbioConnOf returns the nbio socket behind an nbhttp response, or nil.
func nbioConnOf(writer http.ResponseWriter) *nbio.Conn {
	response, ok := writer.(*nbhttp.Response)
	if !ok || response.Parser == nil {
		return nil
	}
	switch conn := response.Parser.Conn.(type) {
	case *nbio.Conn:
		return conn
	case *nbhttp.Conn:
		nbioConn, _ := conn.Conn.(*nbio.Conn)
		return nbioConn
	}
	return nil
}
