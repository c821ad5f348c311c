package engine

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/session"
)

// The conformance tests: raw RFC 6455 frames over a real TCP socket to a real
// server, one case per rule, each asserting what the client sees: the answer, or the
// exact close code followed by the end of the TCP connection. They are split by
// topic: framing, lengths and limits here; control frames, close codes and reserved
// bits in conformance_control_test.go; fragmentation and UTF-8 in
// conformance_fragments_test.go. docs/protocol.md lists the rules they enforce.

// conformanceLimit is the message size limit of the conformance server, the default.
const conformanceLimit = DefaultMaxMessageSize

// answerTimeout bounds every wait for the server; it answers within milliseconds.
const answerTimeout = 5 * time.Second

// startConformanceServer starts a server with a fresh hub on a loopback port and
// returns its address; both stop when the test ends.
func startConformanceServer(t testing.TB) string {
	t.Helper()
	return startConformanceServerWith(t, Config{})
}

// startConformanceServerWith is startConformanceServer with config's Compression.
func startConformanceServerWith(t testing.TB, config Config) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No heartbeat: its pings, scheduled anywhere in the first interval, would land
	// among the frames a case expects (one did, after 0.3 s, on a loaded machine).
	hub, err := session.NewHub(session.Config{Logger: logger, PingInterval: session.Off})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	server := startServer(t, hub, Config{Addr: "127.0.0.1:0", Pollers: 1, Logger: logger, Compression: config.Compression})
	return server.Addr().String()
}

// rawClient speaks WebSocket frames by hand over a TCP socket.
type rawClient struct {
	t      *testing.T
	conn   net.Conn
	reader *bufio.Reader
	// deflate is set when the connection negotiated permessage-deflate: readFrame
	// then accepts RSV1 on data frames and inflates their payload.
	deflate bool
}

// dialRaw connects to addr and completes the opening handshake.
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	client, _ := dialRawWith(t, addr, "")
	return client
}

// dialRawWith is dialRaw with extra header lines (each ending in CRLF) in the
// request; it also returns the 101 answer.
func dialRawWith(t *testing.T, addr, extraHeaders string) (*rawClient, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	request := "GET " + DefaultPath + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n" + extraHeaders + "\r\n"
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatalf("write the upgrade request: %v", err)
	}
	client := &rawClient{t: t, conn: conn, reader: bufio.NewReader(conn)}
	_ = conn.SetReadDeadline(time.Now().Add(answerTimeout))
	response, err := http.ReadResponse(client.reader, nil)
	if err != nil {
		t.Fatalf("read the upgrade answer: %v", err)
	}
	if response.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s, want 101", response.Status)
	}
	return client, response
}

// Frame flags: the first byte of a frame is fin|rsv|opcode.
const (
	fin  = 0x80
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10
)

// maskedFrame encodes a client frame: first byte as given, minimal length, masked
// with a random key.
func maskedFrame(first byte, payload []byte) []byte {
	frame := frameHeader(first, uint64(len(payload)), true)
	key := make([]byte, 4)
	_, _ = rand.Read(key)
	frame = append(frame, key...)
	start := len(frame)
	frame = append(frame, payload...)
	for index := range payload {
		frame[start+index] ^= key[index&3]
	}
	return frame
}

// unmaskedFrame encodes a frame without a mask, as only a server may send.
func unmaskedFrame(first byte, payload []byte) []byte {
	return append(frameHeader(first, uint64(len(payload)), false), payload...)
}

// frameHeader encodes the first bytes of a frame up to the masking key.
func frameHeader(first byte, length uint64, masked bool) []byte {
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	switch {
	case length < 126:
		return []byte{first, maskBit | byte(length)}
	case length <= 0xFFFF:
		return binary.BigEndian.AppendUint16([]byte{first, maskBit | 126}, uint16(length))
	}
	return binary.BigEndian.AppendUint64([]byte{first, maskBit | 127}, length)
}

// closeBody encodes a close frame's body: code and reason.
func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// send writes bytes to the server.
func (c *rawClient) send(data ...[]byte) {
	c.t.Helper()
	if _, err := c.conn.Write(bytes.Join(data, nil)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// serverFrame is one frame the server sent.
type serverFrame struct {
	first   byte
	payload []byte
}

func (f serverFrame) opcode() byte { return f.first & 0x0F }

// readFrame reads the server's next frame, checking what RFC 6455 asks of a server's
// frames: final (wsgate never fragments), no reserved bits (but RSV1 on a data frame
// of a connection that negotiated compression, whose payload it inflates), not
// masked.
func (c *rawClient) readFrame() (serverFrame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(answerTimeout))
	var header [2]byte
	if _, err := io.ReadFull(c.reader, header[:]); err != nil {
		return serverFrame{}, err
	}
	reserved := header[0] & 0x70
	if c.deflate && header[0]&0x0F < opClose {
		reserved &^= rsv1
	}
	if reserved != 0 || header[1]&0x80 != 0 || header[0]&fin == 0 {
		c.t.Fatalf("server frame header %#x %#x: want final, no reserved bits, unmasked", header[0], header[1])
	}
	length := uint64(header[1] & 0x7F)
	switch length {
	case 126:
		var extended [2]byte
		if _, err := io.ReadFull(c.reader, extended[:]); err != nil {
			return serverFrame{}, err
		}
		length = uint64(binary.BigEndian.Uint16(extended[:]))
	case 127:
		var extended [8]byte
		if _, err := io.ReadFull(c.reader, extended[:]); err != nil {
			return serverFrame{}, err
		}
		length = binary.BigEndian.Uint64(extended[:])
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(c.reader, payload); err != nil {
		return serverFrame{}, err
	}
	if header[0]&rsv1 != 0 {
		inflated, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff"))))
		if err != nil {
			c.t.Fatalf("inflate a compressed server frame of %d bytes: %v", length, err)
		}
		payload = inflated
	}
	return serverFrame{first: header[0], payload: payload}, nil
}

// expectFrame reads the next frame and requires its opcode and, when want is not
// nil, a payload containing want.
func (c *rawClient) expectFrame(opcode byte, want []byte) serverFrame {
	c.t.Helper()
	frame, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("waiting for a frame of opcode %d: %v", opcode, err)
	}
	if frame.opcode() != opcode || (want != nil && !bytes.Contains(frame.payload, want)) {
		c.t.Fatalf("got a frame of opcode %d with %q, want opcode %d with %q", frame.opcode(), clip(frame.payload), opcode, clip(want))
	}
	return frame
}

// expectText reads the next frame and requires a text frame containing want.
func (c *rawClient) expectText(want string) {
	c.t.Helper()
	c.expectFrame(opText, []byte(want))
}

// expectClose requires the server's next frame to be a close with code (0: an
// empty body), never one of the codes that must not be sent, and then the end of
// the TCP connection.
func (c *rawClient) expectClose(code uint16) {
	c.t.Helper()
	frame := c.expectFrame(opClose, nil)
	got := uint16(0)
	switch len(frame.payload) {
	case 0:
	case 1:
		c.t.Fatalf("close frame with a 1-byte body %q", frame.payload)
	default:
		got = binary.BigEndian.Uint16(frame.payload)
		if !validUTF8(frame.payload[2:]) {
			c.t.Fatalf("close reason %q is not UTF-8", frame.payload[2:])
		}
	}
	if got == 1005 || got == 1006 || got == 1015 {
		c.t.Fatalf("the server sent close code %d, which must never be sent", got)
	}
	if got != code {
		c.t.Fatalf("close code %d (%q), want %d", got, clip(frame.payload), code)
	}
	c.expectEnd()
}

// expectEnd requires the TCP connection to end (EOF or reset) with nothing more
// sent, within answerTimeout.
func (c *rawClient) expectEnd() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(answerTimeout))
	extra, err := io.ReadAll(c.reader)
	if len(extra) > 0 {
		c.t.Fatalf("%d bytes after the close frame: %q", len(extra), clip(extra))
	}
	var timeout net.Error
	if errors.As(err, &timeout) && timeout.Timeout() {
		c.t.Fatalf("the server did not close the TCP connection within %v", answerTimeout)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("after the close frame: %v, want EOF or a reset", err)
	}
}

// expectSilence requires that nothing arrives for a moment: the server waits for
// more input. The wait is the assertion itself, not a synchronization.
func (c *rawClient) expectSilence(wait time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.reader.Peek(1); err == nil {
		frame, _ := c.readFrame()
		c.t.Fatalf("the server sent opcode %d %q, want nothing yet", frame.opcode(), clip(frame.payload))
	}
}

// echo is the seed protocol's echo request for content and the text of its answer.
func echo(content string) (request []byte, answer string) {
	return fmt.Appendf(nil, `{"type":"message","content":%q}`, content), fmt.Sprintf(`%q`, content)
}

// clip shortens long payloads in failure messages.
func clip(payload []byte) []byte {
	if len(payload) > 80 {
		return append(payload[:80:80], "..."...)
	}
	return payload
}

func TestConformanceLengths(t *testing.T) {
	addr := startConformanceServer(t)
	// The echo request adds 31 bytes to its content: payloads of 31 (7-bit length),
	// 125 (the largest 7-bit), 126 (the smallest 16-bit), 65535 (the largest 16-bit)
	// and 65536 (64-bit, exactly the limit).
	for _, size := range []int{0, 125 - 31, 126 - 31, 0xFFFF - 31, conformanceLimit - 31} {
		t.Run(fmt.Sprintf("%d-byte payload", size+31), func(t *testing.T) {
			client := dialRaw(t, addr)
			request, answer := echo(strings.Repeat("x", size))
			client.send(maskedFrame(fin|opText, request))
			client.expectText(answer)
		})
	}
}

// TestConformanceNegativeLength: a 64-bit length with the most significant bit set
// (§5.2) fails at once, without waiting for a payload.
func TestConformanceNegativeLength(t *testing.T) {
	client := dialRaw(t, startConformanceServer(t))
	header := binary.BigEndian.AppendUint64([]byte{fin | opText, 0x80 | 127}, 1<<63|5)
	client.send(header, []byte{1, 2, 3, 4})
	client.expectClose(closeProtocolError)
}

// TestConformanceNonMinimalLength: §5.2 requires the minimal number of bytes for the
// length.
func TestConformanceNonMinimalLength(t *testing.T) {
	addr := startConformanceServer(t)
	for name, header := range map[string][]byte{
		"16-bit for 5":   binary.BigEndian.AppendUint16([]byte{fin | opText, 0x80 | 126}, 5),
		"64-bit for 500": binary.BigEndian.AppendUint64([]byte{fin | opText, 0x80 | 127}, 500),
	} {
		t.Run(name, func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(header, []byte{1, 2, 3, 4})
			client.expectClose(closeProtocolError)
		})
	}
}

// TestConformanceUnmaskedFrames: §5.1, a server must fail a connection whose client
// sends an unmasked frame.
func TestConformanceUnmaskedFrames(t *testing.T) {
	addr := startConformanceServer(t)
	request, _ := echo("hi")
	for name, frame := range map[string][]byte{
		"text": unmaskedFrame(fin|opText, request),
		"ping": unmaskedFrame(fin|opPing, []byte("hi")),
	} {
		t.Run(name, func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(frame)
			client.expectClose(closeProtocolError)
		})
	}
}

// TestConformanceBackToBackMessages: messages within the limit, written in one TCP
// write, are all answered: the limit bounds one message, not the bytes in flight.
func TestConformanceBackToBackMessages(t *testing.T) {
	client := dialRaw(t, startConformanceServer(t))
	var burst [][]byte
	var answers []string
	for index := range 8 {
		request, answer := echo(fmt.Sprintf("%d:%s", index, strings.Repeat("y", 60<<10)))
		burst = append(burst, maskedFrame(fin|opText, request))
		answers = append(answers, answer)
	}
	client.send(burst...)
	for _, answer := range answers {
		client.expectText(answer)
	}
}

// TestConformanceOversizedMessage: a frame announcing more than the limit is refused
// with 1009 as soon as its header arrives.
func TestConformanceOversizedMessage(t *testing.T) {
	client := dialRaw(t, startConformanceServer(t))
	client.send(frameHeader(fin|opText, conformanceLimit+1, true), []byte{1, 2, 3, 4})
	client.expectClose(1009)
}

// TestConformanceOversizedFragmentedMessage: 1 MiB in 64 KiB fragments is refused
// with 1009 once the fragments pass the limit, with a close frame, not a reset.
func TestConformanceOversizedFragmentedMessage(t *testing.T) {
	client := dialRaw(t, startConformanceServer(t))
	fragment := bytes.Repeat([]byte("z"), 64<<10)
	written := make(chan struct{})
	go func() {
		defer close(written)
		// The server closes while fragments are still coming; the writes that follow
		// fail, which is the point.
		_, _ = client.conn.Write(maskedFrame(opText, fragment))
		for range 15 {
			if _, err := client.conn.Write(maskedFrame(opContinuation, fragment)); err != nil {
				return
			}
		}
		_, _ = client.conn.Write(maskedFrame(fin|opContinuation, fragment))
	}()
	client.expectClose(1009)
	<-written
}

// TestConformanceEmptyMessages: an empty text message reaches the protocol, which
// answers it like any text that is not JSON.
func TestConformanceEmptyMessages(t *testing.T) {
	addr := startConformanceServer(t)
	t.Run("one frame", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opText, nil))
		client.expectText(`"invalid_json"`)
	})
	t.Run("empty fragments", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opText, nil), maskedFrame(opContinuation, nil), maskedFrame(fin|opContinuation, nil))
		client.expectText(`"invalid_json"`)
	})
	t.Run("binary", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opBinary, nil))
		client.expectText(`"binary_not_supported"`)
	})
}
