package client_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
)

// wordText returns size bytes of text made of random words: it compresses like
// JSON, with back references across the whole 32 KB deflate window.
func wordText(size int) string {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	random := rand.New(rand.NewPCG(uint64(size), 7692))
	var text strings.Builder
	for text.Len() < size {
		fmt.Fprintf(&text, "%s%d ", words[random.IntN(len(words))], random.IntN(1000))
	}
	return text.String()[:size]
}

// TestGatewayCompressedBroadcastsAndPublications: against a node with compression,
// the client (which offers permessage-deflate by default) and a client whose dialer
// does not offer it receive the same broadcasts and publications, of 1 KB and of
// 40 KB (over the 32 KB window: nbio issue 444), while the node sends the compressed
// connection far fewer bytes.
func TestGatewayCompressedBroadcastsAndPublications(t *testing.T) {
	config := gateway.Config{InsecureUserID: true}
	config.Engine.Compression = true
	node := testnode.Start(t, config)
	address := node.Addr().String()
	compressing := startClient(t, fastOptions(testsupport.WebSocketURL(address, testsupport.UserQuery("zip"))))
	plainOptions := fastOptions(testsupport.WebSocketURL(address, testsupport.UserQuery("plain")))
	plainOptions.Dialer = &websocket.Dialer{}
	plain := startClient(t, plainOptions)
	compressingNews, _ := subscribeLogged(t, compressing, "news")
	plainNews, _ := subscribeLogged(t, plain, "news")

	for index, size := range []int{1 << 10, 40 << 10} {
		text := wordText(size)
		before := node.Hub.Counters().BytesSent
		status, _ := callAPI(t, address, http.MethodPost, "/api/v1/broadcast", map[string]any{"message": map[string]string{"type": "news", "text": text}})
		if status != http.StatusOK {
			t.Fatalf("broadcast: %d", status)
		}
		for name, c := range map[string]*running{"compressing": compressing, "plain": plain} {
			waitFor(t, 5*time.Second, name+" client's broadcast", func() bool { return c.messageCount() == index+1 })
			var got struct{ Text string }
			c.mutex.Lock()
			message := c.messages[index]
			c.mutex.Unlock()
			if err := json.Unmarshal(message.Data, &got); err != nil || message.Type != "news" || got.Text != text {
				t.Fatalf("the %s client received a %d-byte %q message (%v), want the %d-byte broadcast", name, len(got.Text), message.Type, err, size)
			}
		}
		// The plain client is sent the whole frame, the compressing one much less.
		if sent := node.Hub.Counters().BytesSent - before; sent > uint64(size+size/2) {
			t.Fatalf("a %d-byte broadcast to one plain and one compressing client sent %d bytes: not compressed", size, sent)
		}

		backendPublish(t, address, "news", text)
		for name, log := range map[string]*channelLog{"compressing": compressingNews, "plain": plainNews} {
			waitFor(t, 5*time.Second, name+" client's publication", func() bool { return len(log.data()) == index+1 })
			var got string
			if err := json.Unmarshal([]byte(log.data()[index]), &got); err != nil || got != text {
				t.Fatalf("the %s client received a %d-byte publication (%v), want %d bytes", name, len(got), err, size)
			}
		}
	}
}
