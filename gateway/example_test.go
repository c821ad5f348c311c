package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
)

// A Go program that embeds a node delivers to its clients through the publisher,
// without the HTTP API; with Config.Cluster set, the same calls reach every node.
func ExampleGateway_publisher() {
	node, err := gateway.New(gateway.Config{
		Engine: engine.Config{Addr: "127.0.0.1:0"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := node.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer node.Shutdown(time.Second)

	client, _, err := websocket.DefaultDialer.Dial("ws://"+node.Addr().String()+"/api/v1/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	// next returns the next message that is not a heartbeat ping.
	next := func() string {
		for {
			_, message, err := client.ReadMessage()
			if err != nil || string(message) != `{"type":"ping"}` {
				return string(message)
			}
		}
	}
	// The welcome answers the hello once the connection is registered.
	_ = client.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`))
	next()

	result := node.Publisher.Broadcast(context.Background(), []byte(`{"type":"news","text":"hello"}`))
	fmt.Printf("queued for %d connection(s) on this node, forwarded to a cluster: %v\n", result.Local, result.Forwarded)
	fmt.Println(next())
	// Output:
	// queued for 1 connection(s) on this node, forwarded to a cluster: false
	// {"type":"news","text":"hello"}
}
