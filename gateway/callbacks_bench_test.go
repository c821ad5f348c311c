package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
	"github.com/wsgate/wsgate/session"
)

// BenchmarkRPCRoundTrip measures rpcs through a node to a local Go backend that
// answers at once, signed with a secret, without the per-connection rate limit:
// "serial" is one client with one rpc in flight (the latency of an rpc alone),
// "loaded" 8 clients with 16 each (the per-connection bound; throughput). It
// reports round trips per second and the latency percentiles of one rpc (client
// send to client receive).
func BenchmarkRPCRoundTrip(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchmarkRPC(b, 1, 1) })
	b.Run("loaded", func(b *testing.B) { benchmarkRPC(b, 8, 16) })
}

func benchmarkRPC(b *testing.B, clients, window int) {
	backend := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, _ *http.Request) {
		_, _ = writer.Write([]byte(`{"result":{"data":1}}`))
	}))
	defer backend.Close()
	n := testnode.Start(b, gateway.Config{Session: session.Config{MaxMessagesPerSecond: session.Unlimited}, Callbacks: gateway.CallbacksConfig{RPCURL: backend.URL,
		Client: callbacks.Config{Secret: callbackSecret}}})
	conns := make([]*websocket.Conn, clients)
	for index := range conns {
		conn, response, err := websocket.DefaultDialer.Dial("ws://"+n.Addr().String()+"/api/v1/ws", nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = response.Body.Close()
		defer conn.Close()
		conns[index] = conn
	}
	var next atomic.Int64
	latencies := make([][]time.Duration, clients)
	b.ResetTimer()
	started := time.Now()
	done := make(chan error, clients)
	for index, conn := range conns {
		go func() {
			sent := map[int64]time.Time{}
			send := func() bool {
				id := next.Add(1)
				if id > int64(b.N) {
					return false
				}
				sent[id] = time.Now()
				return conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"rpc","id":`+strconv.FormatInt(id, 10)+`,"method":"m"}`)) == nil
			}
			for range window {
				send()
			}
			for len(sent) > 0 {
				_, data, err := conn.ReadMessage()
				if err != nil {
					done <- err
					return
				}
				var answer struct {
					Type string `json:"type"`
					ID   int64  `json:"id"`
				}
				_ = json.Unmarshal(data, &answer)
				if answer.Type != "rpc_result" {
					done <- &json.UnsupportedValueError{Str: string(data)}
					return
				}
				latencies[index] = append(latencies[index], time.Since(sent[answer.ID]))
				delete(sent, answer.ID)
				send()
			}
			done <- nil
		}()
	}
	for range clients {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(started)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "rpcs/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkConnectRate measures connections opened per second, each dialed, said
// hello to, answered with its welcome (so it is registered) and closed, by 8
// clients at once: "without" the connect callback and "with" it, to a local Go
// backend that answers at once (signed, one user per connection so no per-user
// limit applies). Both run in one process, one after the other, so their ratio is
// the callback's cost.
func BenchmarkConnectRate(b *testing.B) {
	b.Run("without", func(b *testing.B) { benchmarkConnect(b, false) })
	b.Run("with", func(b *testing.B) { benchmarkConnect(b, true) })
}

func benchmarkConnect(b *testing.B, withCallback bool) {
	config := gateway.Config{}
	if withCallback {
		var users atomic.Int64
		backend := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, _ *http.Request) {
			_, _ = writer.Write([]byte(`{"result":{"user":"` + strconv.FormatInt(users.Add(1), 10) + `"}}`))
		}))
		defer backend.Close()
		config.Callbacks = gateway.CallbacksConfig{ConnectURL: backend.URL, Client: callbacks.Config{Secret: callbackSecret}}
	}
	n := testnode.Start(b, config)
	address := "ws://" + n.Addr().String() + "/api/v1/ws"
	const clients = 8
	var next atomic.Int64
	failures := make(chan error, clients)
	b.ResetTimer()
	started := time.Now()
	for range clients {
		go func() {
			for next.Add(1) <= int64(b.N) {
				conn, response, err := websocket.DefaultDialer.Dial(address, nil)
				if err != nil {
					failures <- err
					return
				}
				_ = response.Body.Close()
				err = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`))
				if err == nil {
					_, _, err = conn.ReadMessage()
				}
				_ = conn.Close()
				if err != nil {
					failures <- err
					return
				}
			}
			failures <- nil
		}()
	}
	for range clients {
		if err := <-failures; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(started).Seconds(), "connects/s")
}

// BenchmarkPublishCheck measures client publications per second, each
// acknowledged with "published", by 8 clients with 16 publications in flight
// each (over the rate limit's reach: unlimited), into a namespace "without" and
// "with" publish_check, to a local Go backend that accepts at once (signed). Each
// client publishes to its own channel, which it is subscribed to (no fan-out: the
// check's cost alone). Both run in one process, one after the other, so their
// ratio is the check's cost; with the check a connection's publications are
// checked one at a time (they keep their order), so its rate is bounded by the
// backend's round trip.
func BenchmarkPublishCheck(b *testing.B) {
	b.Run("without", func(b *testing.B) { benchmarkPublishCheck(b, "plain") })
	b.Run("with", func(b *testing.B) { benchmarkPublishCheck(b, "checked") })
}

func benchmarkPublishCheck(b *testing.B, namespace string) {
	backend := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, _ *http.Request) {
		_, _ = writer.Write([]byte(`{"result":{}}`))
	}))
	defer backend.Close()
	open := channels.NamespaceOptions{Subscribe: channels.SubscribeAnyone, Publish: channels.PublishSubscribers}
	plain, checked := open, open
	plain.Name, checked.Name, checked.PublishCheck = "plain", "checked", true
	n := testnode.Start(b, gateway.Config{Session: session.Config{MaxMessagesPerSecond: session.Unlimited},
		Namespaces: []channels.NamespaceOptions{plain, checked},
		Callbacks:  gateway.CallbacksConfig{PublishURL: backend.URL, Client: callbacks.Config{Secret: callbackSecret}}})
	const clients, window = 8, 16
	conns := make([]*websocket.Conn, clients)
	for index := range conns {
		conn, response, err := websocket.DefaultDialer.Dial("ws://"+n.Addr().String()+"/api/v1/ws", nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = response.Body.Close()
		defer conn.Close()
		channel := namespace + ":" + strconv.Itoa(index)
		if err := conn.WriteJSON(map[string]any{"type": "subscribe", "channel": channel}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := conn.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		conns[index] = conn
	}
	var next atomic.Int64
	done := make(chan error, clients)
	b.ResetTimer()
	started := time.Now()
	for index, conn := range conns {
		publish := []byte(`{"type":"publish","channel":"` + namespace + ":" + strconv.Itoa(index) + `","data":{"text":"hi"},"id":1}`)
		go func() {
			inFlight := 0
			send := func() {
				if next.Add(1) <= int64(b.N) && conn.WriteMessage(websocket.TextMessage, publish) == nil {
					inFlight++
				}
			}
			for range window {
				send()
			}
			for inFlight > 0 {
				_, data, err := conn.ReadMessage()
				if err != nil {
					done <- err
					return
				}
				var answer struct {
					Type string `json:"type"`
				}
				_ = json.Unmarshal(data, &answer)
				if answer.Type != "published" {
					done <- &json.UnsupportedValueError{Str: string(data)}
					return
				}
				inFlight--
				send()
			}
			done <- nil
		}()
	}
	for range clients {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(started).Seconds(), "publishes/s")
}
