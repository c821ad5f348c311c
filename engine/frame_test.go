package engine

import (
	"bytes"
	"fmt"
	"testing"
	"unicode/utf8"
)

// recorder is a frameHandler that writes down what it receives, one line per event.
type recorder struct{ events []string }

func (r *recorder) message(opcode byte, payload []byte) {
	r.events = append(r.events, fmt.Sprintf("message %d %q", opcode, payload))
}
func (r *recorder) ping(payload []byte) { r.events = append(r.events, fmt.Sprintf("ping %q", payload)) }
func (r *recorder) pong(payload []byte) { r.events = append(r.events, fmt.Sprintf("pong %q", payload)) }
func (r *recorder) closed(code uint16, reason []byte) {
	r.events = append(r.events, fmt.Sprintf("close %d %q", code, reason))
}

// fuzzLimit is the message size limit of the fuzz target: small, so that inputs
// reach it.
const fuzzLimit = 1 << 10

// readAll feeds data to a fresh reader in pieces of chunk bytes (all at once for
// 0), checking after each piece that the reader holds no more than its bounds. As
// wsConn.parse does, a reader at a frame boundary is replaced by a zero one, so the
// fuzz target's comparison of whole and pieces also checks that nothing it drops
// there mattered.
func readAll(t *testing.T, data []byte, chunk int) ([]string, *frameError) {
	t.Helper()
	var reader frameReader
	handler := &recorder{}
	for len(data) > 0 {
		size := len(data)
		if chunk > 0 {
			size = min(chunk, size)
		}
		failure := feed(&reader, data[:size], fuzzLimit, handler)
		if len(reader.message) > fuzzLimit || cap(reader.message) > fuzzLimit || cap(reader.control) > maxControlPayload {
			t.Fatalf("reader holds a message of %d bytes (capacity %d) and a control payload of capacity %d; the bounds are %d and %d",
				len(reader.message), cap(reader.message), cap(reader.control), fuzzLimit, maxControlPayload)
		}
		if failure != nil {
			return handler.events, failure
		}
		if reader.atBoundary() {
			reader = frameReader{}
		}
		data = data[size:]
	}
	return handler.events, nil
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader, whole and in pieces:
// it must never panic, never hold more than its bounds, end every failure in a
// well-formed close (1002, 1007 or 1009 with a short UTF-8 reason), deliver only
// valid UTF-8 as text and only valid close codes, and read the same events however
// the bytes are split, as TCP may split them.
func FuzzFrameReader(f *testing.F) {
	request, _ := echo("fuzz κόσμε")
	for _, seed := range [][]byte{
		maskedFrame(fin|opText, request),
		maskedFrame(fin|opText, nil),
		bytes.Join([][]byte{maskedFrame(opText, request[:7]), maskedFrame(fin|opPing, []byte("p")), maskedFrame(fin|opContinuation, request[7:])}, nil),
		maskedFrame(fin|opBinary, []byte{0, 1, 2}),
		maskedFrame(fin|opPing, bytes.Repeat([]byte("p"), 125)),
		maskedFrame(fin|opPong, nil),
		maskedFrame(fin|opClose, closeBody(1000, "bye")),
		maskedFrame(fin|opClose, closeBody(1015, "")),
		maskedFrame(fin|opClose, []byte{3}),
		maskedFrame(fin|rsv1|opText, request),
		maskedFrame(fin|0x3, nil),
		unmaskedFrame(fin|opText, request),
		maskedFrame(fin|opText, []byte("\xce\xba\xed\xa0\x80")),
		append(frameHeader(fin|opText, fuzzLimit+1, true), 1, 2, 3, 4),
		append(frameHeader(fin|opBinary, 1<<63|1, true), 1, 2, 3, 4),
		append(frameHeader(fin|opText, 0x10000, true), 1, 2, 3, 4),
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(1))
		f.Add(seed, uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		whole, wholeFailure := readAll(t, data, 0)
		pieces, piecesFailure := readAll(t, data, int(chunk))
		if fmt.Sprint(whole) != fmt.Sprint(pieces) || wholeFailure != piecesFailure {
			t.Fatalf("whole: %q, %v; in pieces of %d: %q, %v", whole, wholeFailure, chunk, pieces, piecesFailure)
		}
		if failure := wholeFailure; failure != nil {
			switch failure.code {
			case closeProtocolError, closeInvalidData, 1009:
			default:
				t.Fatalf("failure with close code %d", failure.code)
			}
			if len(failure.text) > 123 || !utf8.ValidString(failure.text) {
				t.Fatalf("close reason %q is not at most 123 bytes of UTF-8", failure.text)
			}
		}
		for _, event := range whole {
			var opcode byte
			var payload string
			if _, err := fmt.Sscanf(event, "message %d %q", &opcode, &payload); err == nil {
				if len(payload) > fuzzLimit || opcode == opText && !utf8.ValidString(payload) {
					t.Fatalf("delivered %q", event)
				}
			}
			var code uint16
			if _, err := fmt.Sscanf(event, "close %d %q", &code, &payload); err == nil {
				if code != 0 && !validCloseCode(code) || !utf8.ValidString(payload) {
					t.Fatalf("delivered %q", event)
				}
			}
		}
	})
}

func TestValidCloseCodes(t *testing.T) {
	valid := 0
	for code := range 1 << 16 {
		if validCloseCode(uint16(code)) {
			valid++
		}
	}
	// 1000-1003, 1007-1014 and 3000-4999.
	if want := 4 + 8 + 2000; valid != want {
		t.Fatalf("%d valid close codes, want %d", valid, want)
	}
	for _, code := range []uint16{1004, 1005, 1006, 1015} {
		if validCloseCode(code) {
			t.Errorf("close code %d is valid", code)
		}
	}
}

// TestUnmaskAtEveryOffset: unmasking a payload in pieces, starting at any key
// offset, gives what unmasking it whole gives.
func TestUnmaskAtEveryOffset(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	payload := []byte("a payload longer than eight bytes, in several words")
	want := bytes.Clone(payload)
	for index := range want {
		want[index] ^= key[index&3]
	}
	for cut := range len(payload) {
		got := bytes.Clone(payload)
		offset := unmask(got[:cut], key, 0)
		unmask(got[cut:], key, offset)
		if !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: %q, want %q", cut, got, want)
		}
	}
}
