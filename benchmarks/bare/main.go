// Command bare is the reference floor that wsgate's benchmark targets are stated
// against: a bare nbio server with nothing of its own. It upgrades on /api/v1/ws,
// echoes every message back as it came, and on a client message of type "broadcast"
// calls WriteMessage for each other connection in a loop; POST /api/v1/broadcast
// {"message":X} writes X to every connection the same way. Its registry is a plain
// map under a mutex, it has no heartbeat, no limits and no protocol checks. nbio's
// settings are its defaults (including the upgrader's 120 s keepalive timer) except
// the non-blocking I/O mode and released payloads, which wsgate also uses.
//
// It is a separate benchmark program: the rule that only wsgate's engine package
// imports nbio is about the server, not about its measuring tools.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/debugmux"
)

func main() {
	addr := flag.String("addr", ":8001", "TCP address to listen on")
	keepalive := flag.Duration("keepalive", nbhttp.DefaultKeepaliveTime, "nbio's per-connection read deadline (0 = none)")
	flag.Parse()
	logging.Output = os.Stderr
	logging.SetLevel(logging.LevelError)

	connections := &registry{members: make(map[*websocket.Conn]struct{})}
	upgrader := websocket.NewUpgrader()
	upgrader.KeepaliveTime = *keepalive
	upgrader.OnOpen(connections.add)
	upgrader.OnClose(func(conn *websocket.Conn, _ error) { connections.remove(conn) })
	upgrader.OnMessage(func(conn *websocket.Conn, messageType websocket.MessageType, data []byte) {
		if bytes.Contains(data, []byte(`"type":"broadcast"`)) {
			connections.broadcast(messageType, data, conn)
			return
		}
		_ = conn.WriteMessage(messageType, data)
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/ws", func(writer http.ResponseWriter, request *http.Request) {
		_, _ = upgrader.Upgrade(writer, request, nil)
	})
	mux.HandleFunc("GET /api/v1/ws/stats", func(writer http.ResponseWriter, _ *http.Request) {
		writeJSON(writer, http.StatusOK, map[string]int{"total_connections": connections.count()})
	})
	mux.HandleFunc("POST /api/v1/broadcast", func(writer http.ResponseWriter, request *http.Request) {
		var body struct {
			Message json.RawMessage `json:"message"`
		}
		if err := json.NewDecoder(request.Body).Decode(&body); err != nil || len(body.Message) == 0 {
			writeJSON(writer, http.StatusBadRequest, map[string]string{"error": "invalid_body"})
			return
		}
		queued := connections.broadcast(websocket.TextMessage, body.Message, nil)
		writeJSON(writer, http.StatusOK, map[string]int{"queued": queued})
	})
	debugmux.Register(mux)

	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{*addr},
		IOMod:                   nbhttp.IOModNonBlocking,
		ReleaseWebsocketPayload: true,
		Handler:                 mux,
	})
	if err := engine.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = engine.Shutdown(shutdown)
}

// registry is the set of open connections.
type registry struct {
	mutex   sync.Mutex
	members map[*websocket.Conn]struct{}
}

func (r *registry) add(conn *websocket.Conn) {
	r.mutex.Lock()
	r.members[conn] = struct{}{}
	r.mutex.Unlock()
}

func (r *registry) remove(conn *websocket.Conn) {
	r.mutex.Lock()
	delete(r.members, conn)
	r.mutex.Unlock()
}

func (r *registry) count() int {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return len(r.members)
}

// broadcast copies the members under the lock, then calls WriteMessage for each
// one but sender, outside it (nbio may run a close handler from a failed write). It
// returns how many connections were written to.
func (r *registry) broadcast(messageType websocket.MessageType, data []byte, sender *websocket.Conn) int {
	r.mutex.Lock()
	targets := make([]*websocket.Conn, 0, len(r.members))
	for conn := range r.members {
		if conn != sender {
			targets = append(targets, conn)
		}
	}
	r.mutex.Unlock()
	for _, conn := range targets {
		_ = conn.WriteMessage(messageType, data)
	}
	return len(targets)
}

func writeJSON(writer http.ResponseWriter, status int, body any) {
	writer.Header().Set("Content-Type", "application/json")
	writer.WriteHeader(status)
	_ = json.NewEncoder(writer).Encode(body)
}
