package protocol

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"
)

// inflateFrame inflates a compressed frame's payload as a client does.
func inflateFrame(t *testing.T, frame []byte) []byte {
	t.Helper()
	source := io.MultiReader(bytes.NewReader(FramePayload(frame)), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff"))
	payload, err := io.ReadAll(flate.NewReader(source))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return payload
}

func TestDeflatedFrame(t *testing.T) {
	for _, size := range []int{300, 70 << 10} {
		payload := []byte(`{"type":"message","content":"` + strings.Repeat("compressible ", size/13) + `"}`)
		plain := TextFrame(payload)
		deflated := DeflatedFrame(plain)
		if deflated == nil || len(deflated) >= len(plain) {
			t.Fatalf("%d-byte payload: compressed frame of %d bytes for a plain one of %d", len(payload), len(deflated), len(plain))
		}
		if deflated[0] != 0xC1 || plain[0]&deflateRSV1 != 0 {
			t.Fatalf("first byte %#x, want FIN, RSV1 and text (0xC1)", deflated[0])
		}
		if got := inflateFrame(t, deflated); !bytes.Equal(got, payload) {
			t.Fatalf("%d-byte payload inflates to %d different bytes", len(payload), len(got))
		}
	}
}

func TestDeflatedFrameThatDoesNotShrink(t *testing.T) {
	if deflated := DeflatedFrame(TextFrame([]byte(`{"a":1}`))); deflated != nil {
		t.Fatalf("a 7-byte payload compressed to a %d-byte frame: want nil (plain is smaller)", len(deflated))
	}
}
