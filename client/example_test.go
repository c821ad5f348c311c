package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/gateway"
)

// A client sends a message to an in-process node and reads its echo.
func Example() {
	config := gateway.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	config.Engine.Addr = "127.0.0.1:0"
	node, err := gateway.New(config)
	if err == nil {
		err = node.Start()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Shutdown(time.Second)

	echoed := make(chan string, 1)
	c, err := client.New(client.Options{
		URL: "ws://" + node.Addr().String() + "/api/v1/ws",
		OnMessage: func(message client.Message) {
			var body struct {
				Content string `json:"content"`
			}
			if message.Decode(&body) == nil {
				echoed <- body.Content
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	result := make(chan error, 1)
	go func() { result <- c.Run(context.Background()) }()
	_ = c.Send(map[string]any{"type": "message", "content": "hello"})
	select {
	case content := <-echoed:
		fmt.Println(content)
	case <-time.After(5 * time.Second):
		fmt.Println("no echo")
	}
	_ = c.Close()
	fmt.Println(<-result)
	// Output:
	// hello
	// client: closed
}
