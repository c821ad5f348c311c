package engine

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Conformance cases of permessage-deflate (RFC 7692): the negotiation, compressed
// messages whole and fragmented, the uses of RSV1 that fail a connection, and the
// size limit on the inflated message; see conformance_test.go.

// offerDeflate is the extension header of the usual offer (Chromium's).
const offerDeflate = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

// dialDeflate connects with offerDeflate and requires the server to accept it.
func dialDeflate(t *testing.T, addr string) *rawClient {
	t.Helper()
	client, response := dialRawWith(t, addr, offerDeflate)
	if got := response.Header.Get("Sec-WebSocket-Extensions"); got != "permessage-deflate; server_no_context_takeover; client_no_context_takeover" {
		t.Fatalf("Sec-WebSocket-Extensions answered %q, want permessage-deflate with both no-context-takeover parameters", got)
	}
	client.deflate = true
	return client
}

// compress deflates payload the way a client without context takeover does: the
// whole message, flushed, its final 00 00 ff ff removed.
func compress(t *testing.T, payload []byte) []byte {
	t.Helper()
	var output bytes.Buffer
	writer, err := flate.NewWriter(&output, flate.DefaultCompression)
	if err != nil {
		t.Fatalf("flate.NewWriter: %v", err)
	}
	if _, err := writer.Write(payload); err != nil {
		t.Fatalf("deflate: %v", err)
	}
	if err := writer.Flush(); err != nil {
		t.Fatalf("deflate: %v", err)
	}
	compressed, found := bytes.CutSuffix(output.Bytes(), []byte{0, 0, 0xff, 0xff})
	if !found {
		t.Fatalf("a flushed deflate stream does not end with 00 00 ff ff")
	}
	return compressed
}

// wordSoup returns size bytes of JSON-safe text made of random words: it compresses
// about as well as real JSON, with back references reaching across the whole 32 KB
// window.
func wordSoup(size int) string {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"}
	random := rand.New(rand.NewPCG(19, 7692))
	var text strings.Builder
	for text.Len() < size {
		text.WriteString(words[random.IntN(len(words))])
		fmt.Fprintf(&text, "%d ", random.IntN(1000))
	}
	return text.String()[:size]
}

func TestConformanceDeflateNegotiation(t *testing.T) {
	addr := startConformanceServerWith(t, Config{Compression: true})
	const accepted = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	for offer, want := range map[string]string{
		"permessage-deflate":                                                                        accepted,
		"permessage-deflate; client_max_window_bits":                                                accepted,
		"permessage-deflate; client_max_window_bits=10":                                             accepted,
		`permessage-deflate; client_max_window_bits="9"`:                                            accepted,
		"permessage-deflate; server_no_context_takeover":                                            accepted,
		"permessage-deflate; client_no_context_takeover":                                            accepted,
		"permessage-deflate; server_max_window_bits=15":                                             accepted,
		"PerMessage-Deflate; Client_No_Context_Takeover":                                            accepted,
		"x-webkit-deflate-frame, permessage-deflate":                                                accepted,
		"permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits": accepted,
		"permessage-deflate; server_max_window_bits=10":                                             "",
		"permessage-deflate; server_max_window_bits":                                                "",
		"permessage-deflate; client_max_window_bits=16":                                             "",
		"permessage-deflate; client_max_window_bits=08":                                             "",
		"permessage-deflate; server_no_context_takeover=1":                                          "",
		"permessage-deflate; client_no_context_takeover; client_no_context_takeover":                "",
		"permessage-deflate; mux":                                                                   "",
		"permessage-deflate;":                                                                       "",
		"x-webkit-deflate-frame":                                                                    "",
	} {
		t.Run(offer, func(t *testing.T) {
			client, response := dialRawWith(t, addr, "Sec-WebSocket-Extensions: "+offer+"\r\n")
			if got := response.Header.Get("Sec-WebSocket-Extensions"); got != want {
				t.Fatalf("Sec-WebSocket-Extensions answered %q, want %q", got, want)
			}
			// Declined or not, the connection works.
			client.deflate = want != ""
			request, answer := echo("negotiated")
			client.send(maskedFrame(fin|opText, request))
			client.expectText(answer)
		})
	}
	t.Run("compression off", func(t *testing.T) {
		client, response := dialRawWith(t, startConformanceServer(t), offerDeflate)
		if got := response.Header.Get("Sec-WebSocket-Extensions"); got != "" {
			t.Fatalf("without Config.Compression the server answered Sec-WebSocket-Extensions %q", got)
		}
		request, _ := echo("rsv1")
		client.send(maskedFrame(fin|rsv1|opText, compress(t, request)))
		client.expectClose(closeProtocolError)
	})
}

func TestConformanceDeflateMessages(t *testing.T) {
	addr := startConformanceServerWith(t, Config{Compression: true})
	t.Run("one compressed frame", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, answer := echo("compressed")
		client.send(maskedFrame(fin|rsv1|opText, compress(t, request)))
		client.expectText(answer)
	})
	t.Run("uncompressed message on a compressing connection", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, answer := echo("plain")
		client.send(maskedFrame(fin|opText, request))
		client.expectText(answer)
	})
	t.Run("three fragments, RSV1 on the first", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, answer := echo(wordSoup(2000))
		compressed := compress(t, request)
		third := len(compressed) / 3
		client.send(maskedFrame(rsv1|opText, compressed[:third]), maskedFrame(fin|opPing, []byte("between")),
			maskedFrame(opContinuation, compressed[third:2*third]), maskedFrame(fin|opContinuation, compressed[2*third:]))
		client.expectFrame(opPong, []byte("between"))
		frame := client.expectFrame(opText, []byte(answer))
		if frame.first&rsv1 == 0 {
			t.Fatalf("the %d-byte answer came uncompressed", len(frame.payload))
		}
	})
	// nbio issue 444: messages over 32 KB, the deflate window, broke compression.
	t.Run("40 KB message both ways", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, answer := echo(wordSoup(40 << 10))
		client.send(maskedFrame(fin|rsv1|opText, compress(t, request)))
		frame := client.expectFrame(opText, []byte(answer))
		if frame.first&rsv1 == 0 {
			t.Fatalf("the %d-byte answer came uncompressed", len(frame.payload))
		}
	})
	t.Run("inflated to exactly the limit", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, answer := echo(strings.Repeat("x", conformanceLimit-31))
		client.send(maskedFrame(fin|rsv1|opText, compress(t, request)))
		client.expectText(answer)
	})
	t.Run("small answers go uncompressed", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, answer := echo("short")
		client.send(maskedFrame(fin|rsv1|opText, compress(t, request)))
		if frame := client.expectFrame(opText, []byte(answer)); frame.first&rsv1 != 0 {
			t.Fatalf("a %d-byte answer came compressed, under the 256-byte minimum", len(frame.payload))
		}
	})
}

func TestConformanceDeflateFailures(t *testing.T) {
	addr := startConformanceServerWith(t, Config{Compression: true})
	request, _ := echo("failure")
	for name, test := range map[string]struct {
		frames [][]byte
		code   uint16
	}{
		"RSV1 on ping":  {[][]byte{maskedFrame(fin|rsv1|opPing, nil)}, closeProtocolError},
		"RSV1 on close": {[][]byte{maskedFrame(fin|rsv1|opClose, closeBody(1000, ""))}, closeProtocolError},
		"RSV1 on a continuation": {[][]byte{maskedFrame(opText, request[:4]), maskedFrame(fin|rsv1|opContinuation, request[4:])},
			closeProtocolError},
		"RSV2 beside RSV1":        {[][]byte{maskedFrame(fin|rsv1|rsv2|opText, request)}, closeProtocolError},
		"RSV3":                    {[][]byte{maskedFrame(fin|rsv3|opText, request)}, closeProtocolError},
		"not deflate data":        {[][]byte{maskedFrame(fin|rsv1|opText, []byte{0xff, 0xff, 0xff, 0xff, 0xff})}, closeInvalidData},
		"invalid UTF-8 inflated":  {[][]byte{maskedFrame(fin|rsv1|opText, compress(t, []byte{'"', 0xc3, 0x28, '"'}))}, closeInvalidData},
		"compressed, then a text": {[][]byte{maskedFrame(rsv1|opText, compress(t, request)), maskedFrame(fin|opText, request)}, closeProtocolError},
	} {
		t.Run(name, func(t *testing.T) {
			client := dialDeflate(t, addr)
			client.send(test.frames...)
			client.expectClose(test.code)
		})
	}
	t.Run("one byte over the limit once inflated", func(t *testing.T) {
		client := dialDeflate(t, addr)
		request, _ := echo(strings.Repeat("x", conformanceLimit-30))
		client.send(maskedFrame(fin|rsv1|opText, compress(t, request)))
		client.expectClose(1009)
	})
	t.Run("zip bomb", func(t *testing.T) {
		client := dialDeflate(t, addr)
		// 8 MiB of spaces deflate to a few kilobytes.
		bomb := compress(t, bytes.Repeat([]byte(" "), 8<<20))
		if len(bomb) >= conformanceLimit {
			t.Fatalf("the bomb is %d bytes compressed: not a bomb", len(bomb))
		}
		client.send(maskedFrame(fin|rsv1|opText, bomb))
		client.expectClose(1009)
	})
}
