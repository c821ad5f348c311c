package session

import (
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// chatContent is the content of the benchmarks' chat messages: about 60 bytes.
const chatContent = `{"text":"a chat line of about sixty bytes of content","n":1}`

// benchmarkMessages measures the inbound path of one client message: accounting and
// the rate limit, the heartbeat fast path or the JSON decoder, the answer's encoding
// and its queuing (the flush workers write it concurrently). peers other connections
// receive what the sender broadcasts.
func benchmarkMessages(b *testing.B, text string, peers int) {
	hub := newTestHub(b, Config{MaxPendingBytes: 1 << 30})
	// The connections discard what is written (see benchmarkHub).
	traffic := &testsupport.Traffic{}
	for range peers {
		if _, err := hub.Open(&testsupport.Conn{Discard: true, Traffic: traffic}, ""); err != nil {
			b.Fatal(err)
		}
	}
	sender, err := hub.Open(&testsupport.Conn{Discard: true, Traffic: traffic}, "")
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(text)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		hub.HandleText(sender, data)
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
