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

// A client subscribes to a channel with a subscription token from its backend, and
// publishes to another. (Not run: it needs a node with channels.)
func ExampleClient_Subscribe() {
	c, err := client.New(client.Options{
		URL: "ws://127.0.0.1:8080/api/v1/ws",
		SubscriptionToken: func(ctx context.Context, channel string) (string, error) {
			return "a subscription token for " + channel + " from your backend", nil
		},
		OnError: func(err error) { fmt.Println(err) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() { _ = c.Run(context.Background()) }()
	defer c.Close()

	news, err := c.Subscribe("news", func(p client.Publication) {
		fmt.Printf("%s: %s\n", p.Channel, p.Data)
	}, client.SubscribeOptions{
		OnSubscribed: func(s client.Subscribed) { fmt.Println("subscribed to", s.Channel) },
		OnError:      func(err error) { fmt.Println("news:", err) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer news.Unsubscribe()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Publish(ctx, "chat:lobby", map[string]string{"text": "hi"}); err != nil {
		fmt.Println(err)
	}
}
