// Package client is a reconnecting wsgate client for Go services.
//
// A Client holds one WebSocket to a wsgate node and keeps it up: it reconnects with
// exponential backoff and full jitter, follows the close-code policies of
// docs/protocol.md, answers the server's heartbeat pings, notices a dead server (no
// frame for ping interval + ping timeout), and keeps what is sent while offline in a
// bounded queue that is flushed in order after reconnecting.
//
// Close codes and what the client does (see ClosePolicyOf):
//
//	1000, 4400-4499   terminal: Run returns a *CloseError
//	4100-4199         ask Options.Token for a fresh token, then reconnect with backoff
//	1001              reconnect after a random delay in [0, Options.GoingAwayDelay)
//	everything else   reconnect with backoff (1006, 1008, 1009, 1011, 1013, 4000-4099, ...)
//
// The backoff before reconnect attempt n (1 for the first after a stable connection)
// is a random duration in [0, min(MaxDelay, BaseDelay*2^(n-1))). The attempt counter
// resets only after a connection stayed open for Options.StableAfter, so a server that
// accepts and drops at once does not cause a hot loop.
//
// Delivery is at most once: a message written to a socket that dies before the server
// reads it is lost. Messages that could not be written at all stay queued.
//
// Channels: Subscribe returns a Subscription that is made again on every connection,
// each time with a fresh token from SubscribeOptions.Token or Options.SubscriptionToken;
// a refusal ends that subscription only (temporary ones are retried with backoff).
// Publish queues a publication and returns once it is written; the server answers a
// publish only to refuse it, with a *ChannelError that reaches Options.OnError. The
// server's own subscriptions (the token's channels, the backend API) are reported to
// Options.OnSubscribed and their publications go to Options.OnPublication. Every
// subscribe, unsubscribe and publish carries an id, a number counting up per Client,
// and the server's answers are matched by it.
//
// Recovery: in a channel with history a Subscription keeps its Position (the offset of
// the last publication delivered and the stream's epoch) and every resubscribe asks
// the server for what it missed; the handler sees each publication once, in order, and
// SubscribeOptions.OnRecovery reports a Recovery: Recovered true (the missed
// publications follow) or false (they are lost: reload the state).
//
// Usage:
//
//	c, err := client.New(client.Options{
//		URL:       "ws://localhost:8080/api/v1/ws",
//		OnMessage: func(m client.Message) { log.Printf("%s: %s", m.Type, m.Data) },
//	})
//	if err != nil { ... }
//	go func() { _ = c.Run(ctx) }()
//	_ = c.Send(map[string]any{"type": "broadcast", "content": "hi"})
//	news, err := c.Subscribe("news", func(p client.Publication) { log.Printf("news: %s", p.Data) })
//	...
//	news.Unsubscribe()
//	_ = c.Close()
package client
