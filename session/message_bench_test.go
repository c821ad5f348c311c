package session_test

import (
	"testing"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// chatContent is the content of the benchmarks' chat messages: about 60 bytes.
const chatContent = `{"text":"a chat line of about sixty bytes of content","n":1}`

// benchmarkMessages measures the inbound path of one client message as the engine
// drives it: accounting and the rate limit, the heartbeat fast path or the
// protocol's decoder and the publisher's dispatch, the answer's encoding and its
// queuing (the flush workers write it concurrently). peers other connections receive
// what the sender broadcasts.
func benchmarkMessages(b *testing.B, text string, peers int) {
	hub, err := session.NewHub(session.Config{PingInterval: session.Off, MaxPendingBytes: 1 << 30,
		MaxMessagesPerSecond: session.Unlimited})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { hub.Shutdown(0) })
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub})
	if err != nil {
		b.Fatal(err)
	}
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		b.Fatal(err)
	}
	// The connections discard what is written and count it, as in the fan-out
	// benchmarks.
	traffic := &testsupport.Traffic{}
	for range peers {
		transport.Open(&testsupport.Conn{Discard: true, Traffic: traffic}, session.Identity{})
	}
	sender := transport.Open(&testsupport.Conn{Discard: true, Traffic: traffic}, session.Identity{})
	if !sender.IsOpen() || hub.ConnectionCount() != peers+1 {
		b.Fatalf("%d connections open, want %d", hub.ConnectionCount(), peers+1)
	}
	data := []byte(text)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		transport.HandleText(sender, data)
	}
}

// BenchmarkMessageEcho is a "message" the server sends back to its sender.
func BenchmarkMessageEcho(b *testing.B) {
	benchmarkMessages(b, `{"type":"message","content":`+chatContent+`}`, 0)
}

// BenchmarkMessagePingFastPath is the exact {"type":"ping"} that skips the decoder.
func BenchmarkMessagePingFastPath(b *testing.B) { benchmarkMessages(b, `{"type":"ping"}`, 0) }

// BenchmarkMessagePingDecoded is a ping in another spelling, through the decoder.
func BenchmarkMessagePingDecoded(b *testing.B) { benchmarkMessages(b, `{ "type": "ping" }`, 0) }

// BenchmarkMessageHello is a "hello" answered with a welcome.
func BenchmarkMessageHello(b *testing.B) { benchmarkMessages(b, `{"type":"hello"}`, 0) }

// BenchmarkMessageUnknownType is a message answered with an unknown_type error.
func BenchmarkMessageUnknownType(b *testing.B) { benchmarkMessages(b, `{"type":"teleport"}`, 0) }

// BenchmarkMessageBroadcast1000 is a client's broadcast to 1,000 other connections.
func BenchmarkMessageBroadcast1000(b *testing.B) {
	benchmarkMessages(b, `{"type":"broadcast","content":`+chatContent+`}`, 1000)
}
