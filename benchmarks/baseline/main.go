// Command baseline is the seed's design (the FastAPI WebSocketManager that
// docs/protocol.md describes under "Compatibility with the original FastAPI
// specification") ported faithfully to Go, so that wsgate is measured against what
// it replaces. It keeps the seed's faults on purpose, because that is
// the point of a baseline:
//
//   - a goroutine per connection (the seed's coroutine per connection), with
//     gorilla/websocket and its default buffers;
//   - one mutex around the three maps; a broadcast copies the ids, then sends one
//     connection after the other and encodes the message again for every recipient;
//   - the per-user limit is checked before the accept and not atomically with the
//     registration; over it the connection is closed with 1008 "Connection limit
//     reached" (under uvicorn the seed would refuse the handshake instead);
//   - the heartbeat is one loop that sleeps an interval, then pings every connection
//     in turn, and only drops a connection when a send fails; dropping it removes it
//     from the maps but does not close the socket.
//
// It speaks the seed's protocol on GET /api/v1/ws (?user_id= names the user; without
// it the connection is anonymous and unlimited) and GET /api/v1/ws/stats, and adds
// POST /api/v1/broadcast {"message":{...}} so that broadcasts can be triggered the
// way wsgate's are, plus /metrics and /debug/pprof/ for the load generator. Log
// lines go through slog at the seed's levels; the default level is warn, as
// Python's root logger is unless the application configures it.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/debugmux"
)

func main() {
	addr := flag.String("addr", ":8000", "TCP address to listen on")
	pingInterval := flag.Duration("ping-interval", 30*time.Second, "time between heartbeat rounds (0 = no heartbeat)")
	pingTimeout := flag.Duration("ping-timeout", 10*time.Second, "a connection whose last ping is older than twice this is dropped")
	maxConnectionsPerUser := flag.Int("max-conns-per-user", 5, "connections one user may hold")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "baseline: -log-level:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	app := &application{
		manager: newManager(*pingInterval, *pingTimeout, *maxConnectionsPerUser, logger),
		logger:  logger,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/ws", app.serveWebSocket)
	mux.HandleFunc("GET /api/v1/ws/stats", app.serveStats)
	mux.HandleFunc("POST /api/v1/broadcast", app.serveBroadcast)
	debugmux.Register(mux)
	server := &http.Server{Addr: *addr, Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = server.Close()
	}()
	logger.Warn("baseline listening", "addr", *addr, "ping_interval", pingInterval.String())
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		logger.Error("baseline failed", "error", err.Error())
		os.Exit(1)
	}
}

// application holds the endpoints of the seed's router.
type application struct {
	manager  *manager
	logger   *slog.Logger
	upgrader websocket.Upgrader
}

// serveWebSocket is the seed's websocket_endpoint.
func (a *application) serveWebSocket(writer http.ResponseWriter, request *http.Request) {
	connectionID := newConnectionID()
	userID := request.URL.Query().Get("user_id")
	refused := a.manager.overLimit(userID)
	conn, err := a.upgrader.Upgrade(writer, request, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	if refused {
		a.logger.Warn("Connection limit reached for user " + userID)
		closeFrame := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "Connection limit reached")
		_ = conn.WriteControl(websocket.CloseMessage, closeFrame, time.Now().Add(time.Second))
		return
	}
	s := &socket{conn: conn}
	a.manager.register(connectionID, userID, s)
	defer a.manager.disconnect(connectionID)
	for {
		_, payload, err := conn.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				a.logger.Info("WebSocket disconnected: " + connectionID)
			} else {
				a.logger.Error("WebSocket error: " + err.Error())
			}
			return
		}
		data, err := decodeObject(payload)
		if err != nil {
			a.logger.Error("WebSocket error: " + err.Error())
			return
		}
		switch data["type"] {
		case "pong":
			a.manager.touch(connectionID)
		case "message":
			a.manager.sendMessage(connectionID, envelope{Type: "message", Content: data["content"]})
		case "broadcast":
			a.manager.broadcast(envelope{Type: "broadcast", Content: data["content"]}, connectionID)
		}
	}
}

// serveStats is the seed's get_websocket_stats.
func (a *application) serveStats(writer http.ResponseWriter, _ *http.Request) {
	writeJSON(writer, http.StatusOK, a.manager.stats())
}

// serveBroadcast sends {"message":X} to every connection as X, for trigger parity
// with wsgate's publish API.
func (a *application) serveBroadcast(writer http.ResponseWriter, request *http.Request) {
	var body struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.NewDecoder(request.Body).Decode(&body); err != nil || len(body.Message) == 0 {
		writeJSON(writer, http.StatusBadRequest, map[string]string{"error": "invalid_body", "message": "want {\"message\":{...}}"})
		return
	}
	queued := a.manager.broadcast(body.Message, "")
	writeJSON(writer, http.StatusOK, map[string]int{"queued": queued})
}

// decodeObject parses a JSON object, keeping numbers as written (as Python does
// with integers); anything else is an error, as data.get is for the seed.
func decodeObject(payload []byte) (map[string]any, error) {
	var data map[string]any
	decoder := json.NewDecoder(bytes.NewReader(payload))
	decoder.UseNumber()
	if err := decoder.Decode(&data); err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("'NoneType' object has no attribute 'get'")
	}
	return data, nil
}

// newConnectionID returns a random (version 4) UUID, as uuid.uuid4() does.
func newConnectionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func writeJSON(writer http.ResponseWriter, status int, body any) {
	writer.Header().Set("Content-Type", "application/json")
	writer.WriteHeader(status)
	_ = json.NewEncoder(writer).Encode(body)
}
