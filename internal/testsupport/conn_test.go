package testsupport

import (
	"bytes"
	"sync"
	"testing"
)

func TestConnRecordsCopiesInOrder(t *testing.T) {
	conn := &Conn{}
	frame := []byte("first")
	if written, err := conn.Write(frame); written != len(frame) || err != nil {
		t.Fatalf("Write = %d, %v", written, err)
	}
	copy(frame, "reuse")
	_, _ = conn.Write([]byte("second"))
	writes := conn.Writes()
	if len(writes) != 2 || !bytes.Equal(writes[0], []byte("first")) || !bytes.Equal(writes[1], []byte("second")) {
		t.Fatalf("Writes = %q, want [first second]: a copy of each frame, in order", writes)
	}
	if conn.Closed() {
		t.Fatal("Closed before Close")
	}
	_ = conn.Close()
	if !conn.Closed() {
		t.Fatal("not Closed after Close")
	}
}

func TestDiscardingConnsShareTheirTraffic(t *testing.T) {
	traffic := &Traffic{}
	var writers sync.WaitGroup
	for range 10 {
		conn := &Conn{Discard: true, Traffic: traffic}
		writers.Go(func() {
			for range 100 {
				_, _ = conn.Write([]byte("abc"))
			}
			if conn.Writes() != nil {
				t.Error("a discarding Conn kept frames")
			}
		})
	}
	writers.Wait()
	if traffic.Writes.Load() != 1000 || traffic.Bytes.Load() != 3000 {
		t.Fatalf("traffic %d writes, %d bytes; want 1000, 3000", traffic.Writes.Load(), traffic.Bytes.Load())
	}
}

func TestWebSocketURL(t *testing.T) {
	for _, test := range []struct{ userID, want string }{
		{"", "ws://127.0.0.1:8080/api/v1/ws"},
		{"a b&c", "ws://127.0.0.1:8080/api/v1/ws?user_id=a+b%26c"},
	} {
		if got := WebSocketURL("127.0.0.1:8080", UserQuery(test.userID)); got != test.want {
			t.Errorf("WebSocketURL for user %q = %s, want %s", test.userID, got, test.want)
		}
	}
}
