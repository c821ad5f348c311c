package engine

import (
	"bytes"
	"runtime"
	"testing"
)

// TestInflateBoundsMemory: a message that inflates far past the limit fails with
// 1009 having allocated a bounded amount whatever the bomb's size: the buffer, which
// grows up to exactly the limit, and the smaller ones it outgrew (together at most
// the limit again).
func TestInflateBoundsMemory(t *testing.T) {
	const limit = 64 << 10
	bomb := compress(t, bytes.Repeat([]byte("{}"), 2<<20))
	warm := compress(t, []byte("warm"))
	// The least of a few tries: the race detector makes sync.Pool drop a quarter of
	// what is put back, and a collection empties it, so one try may count a new
	// decompressor (about 40 KB) beside the buffers.
	allocated := uint64(1 << 62)
	for range 10 {
		var before, after runtime.MemStats
		runtime.GC()
		// Warm the pool after the collection, so its decompressor is not counted.
		if _, err := inflate(warm, limit); err != nil {
			t.Fatalf("inflate a small message: %v", err)
		}
		runtime.ReadMemStats(&before)
		message, err := inflate(bomb, limit)
		runtime.ReadMemStats(&after)
		if err != errMessageTooBig {
			t.Fatalf("inflate of a %d-byte bomb of 4 MiB: %v (%d bytes), want errMessageTooBig", len(bomb), err, len(message))
		}
		allocated = min(allocated, after.TotalAlloc-before.TotalAlloc)
	}
	if allocated > 2*limit {
		t.Fatalf("inflate allocated %d bytes for a %d-byte limit", allocated, limit)
	}
}

func TestInflate(t *testing.T) {
	for name, message := range map[string][]byte{
		"empty":             {},
		"short":             []byte(`{"type":"ping"}`),
		"over 32 KB window": []byte(wordSoup(100 << 10)),
		"exactly the limit": bytes.Repeat([]byte("y"), 1000),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := inflate(compress(t, message), max(len(message), 1000))
			if err != nil || !bytes.Equal(got, message) {
				t.Fatalf("inflate: %v, %d bytes, want the %d bytes compressed", err, len(got), len(message))
			}
		})
	}
	if _, err := inflate(compress(t, bytes.Repeat([]byte("y"), 1001)), 1000); err != errMessageTooBig {
		t.Fatalf("inflate of 1001 bytes with a 1000-byte limit: %v, want errMessageTooBig", err)
	}
	if _, err := inflate([]byte{0x07, 0x08}, 1000); err != errBadCompression {
		t.Fatalf("inflate of bytes that are not deflate data: %v, want errBadCompression", err)
	}
}
