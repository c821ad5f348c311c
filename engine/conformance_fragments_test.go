package engine

import (
	"testing"
	"time"
)

// Conformance cases of fragmentation (§5.4) and of UTF-8 in text messages (§8.1);
// see conformance_test.go.

// pause is how long a fail-fast case waits with the rest of a message unsent: a
// server that waited for the whole message would stay silent for that long.
const pause = 200 * time.Millisecond

func TestConformanceFragmentation(t *testing.T) {
	addr := startConformanceServer(t)
	request, answer := echo("fragmented message")
	t.Run("three fragments", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opText, request[:5]), maskedFrame(opContinuation, request[5:12]), maskedFrame(fin|opContinuation, request[12:]))
		client.expectText(answer)
	})
	t.Run("one byte per fragment", func(t *testing.T) {
		client := dialRaw(t, addr)
		frames := [][]byte{maskedFrame(opText, request[:1])}
		for index := 1; index < len(request)-1; index++ {
			frames = append(frames, maskedFrame(opContinuation, request[index:index+1]))
		}
		client.send(append(frames, maskedFrame(fin|opContinuation, request[len(request)-1:]))...)
		client.expectText(answer)
	})
	t.Run("control frames between fragments", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opText, request[:5]), maskedFrame(fin|opPing, []byte("ping 1")),
			maskedFrame(opContinuation, request[5:12]), maskedFrame(fin|opPong, []byte("pong")),
			maskedFrame(fin|opPing, []byte("ping 2")), maskedFrame(fin|opContinuation, request[12:]))
		client.expectFrame(opPong, []byte("ping 1"))
		client.expectFrame(opPong, []byte("ping 2"))
		client.expectText(answer)
	})
	t.Run("one frame delivered byte by byte", func(t *testing.T) {
		client := dialRaw(t, addr)
		for _, octet := range maskedFrame(fin|opText, request) {
			client.send([]byte{octet})
		}
		client.expectText(answer)
	})
	t.Run("continuation without a message", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opContinuation, request))
		client.expectClose(closeProtocolError)
	})
	t.Run("non-final continuation without a message", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opContinuation, request))
		client.expectClose(closeProtocolError)
	})
	t.Run("new text message before the last ended", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opText, request[:5]), maskedFrame(fin|opText, request))
		client.expectClose(closeProtocolError)
	})
	t.Run("new binary message before the last ended", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opText, request[:5]), maskedFrame(fin|opBinary, request))
		client.expectClose(closeProtocolError)
	})
}

func TestConformanceUTF8(t *testing.T) {
	addr := startConformanceServer(t)
	t.Run("multi-byte characters split across fragments", func(t *testing.T) {
		client := dialRaw(t, addr)
		request, answer := echo("κόσμε 😀 €")
		// Split inside every multi-byte character: after the first byte of κ
		// (offset 29 after `{"type":"message","content":"`), inside 😀 and inside €.
		content := 29
		cuts := []int{content + 1, content + 12, content + 14, content + 18}
		frames := [][]byte{maskedFrame(opText, request[:cuts[0]])}
		for index := 1; index < len(cuts); index++ {
			frames = append(frames, maskedFrame(opContinuation, request[cuts[index-1]:cuts[index]]))
		}
		client.send(append(frames, maskedFrame(fin|opContinuation, request[cuts[len(cuts)-1]:]))...)
		client.expectText(answer)
	})
	for name, text := range map[string]string{
		"invalid byte":          "\xff",
		"overlong encoding":     "\xc0\xaf",
		"surrogate":             "\xed\xa0\x80",
		"above U+10FFFF":        "\xf4\x90\x80\x80",
		"unfinished at the end": "ok \xe2\x82",
		"lone continuation":     "\x80",
	} {
		t.Run(name, func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(fin|opText, []byte(text)))
			client.expectClose(closeInvalidData)
		})
	}
	t.Run("fail fast on an invalid fragment", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(opText, []byte("valid start ")), maskedFrame(opContinuation, []byte("\xce\xba\xed\xa0\x80")))
		client.expectClose(closeInvalidData)
	})
	t.Run("fail fast within a frame", func(t *testing.T) {
		client := dialRaw(t, addr)
		frame := maskedFrame(fin|opText, []byte("valid start \xf8 and a long rest that is never sent"))
		// Header (6 bytes) and payload up to the invalid byte; the rest is held back.
		client.send(frame[:6+13])
		client.expectClose(closeInvalidData)
	})
	t.Run("unfinished character waits for the next fragment", func(t *testing.T) {
		client := dialRaw(t, addr)
		request, answer := echo("€")
		cut := 29 + 1
		client.send(maskedFrame(opText, request[:cut]))
		client.expectSilence(pause)
		client.send(maskedFrame(fin|opContinuation, request[cut:]))
		client.expectText(answer)
	})
	t.Run("invalid UTF-8 in a binary message is not checked", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opBinary, []byte("\xff\xfe")))
		client.expectText(`"binary_not_supported"`)
	})
}
