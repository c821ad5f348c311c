package engine

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/wsgate/wsgate/internal/httpjson"
)

// The opening handshake (RFC 6455 §4.2). wsgate answers it itself, because the
// connection it hands on to nbio's poller is read by wsgate's own frame reader
// (frame.go), not by nbio's websocket package.

// errOriginNotAllowed is Upgrade's error for a request whose Origin is refused.
var errOriginNotAllowed = errors.New("engine: websocket origin not allowed")

// acceptGUID is the fixed GUID of the Sec-WebSocket-Accept computation (§1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// upgrader completes the opening handshake of requests to the WebSocket path. Safe
// for concurrent use.
type upgrader struct {
	server *Server
	// checkOrigin is Config.CheckOrigin, or the same-origin check.
	checkOrigin func(request *http.Request) bool
}

func newUpgrader(server *Server) *upgrader {
	u := &upgrader{server: server, checkOrigin: server.config.CheckOrigin}
	if u.checkOrigin == nil {
		u.checkOrigin = sameOrigin
	}
	return u
}

// Upgrade checks the GET request and hands the socket to a new WebSocket connection,
// whose frames the poller reads from then on. Its 101 answer is held back until
// completeHandshake, so that the caller registers the connection first. A request that is not a
// valid upgrade gets its HTTP error (400, 403, 426) in the API's JSON error shape and an
// error; a refused Origin returns errOriginNotAllowed.
func (u *upgrader) Upgrade(writer http.ResponseWriter, request *http.Request) (*wsConn, error) {
	if status, code, err := u.check(request); err != nil {
		refuseUpgrade(writer, status, code, strings.TrimPrefix(err.Error(), "engine: "))
		return nil, err
	}
	response, ok := writer.(*nbhttp.Response)
	if !ok {
		refuseUpgrade(writer, http.StatusInternalServerError, "internal", "the upgrade ran outside the event loop")
		return nil, errors.New("engine: upgrade outside nbhttp")
	}
	hijacked, _, err := response.Hijack()
	if err != nil {
		return nil, err
	}
	socket, _ := hijacked.(*nbio.Conn)
	httpConn, isHTTPConn := hijacked.(*nbhttp.Conn)
	if isHTTPConn {
		socket, _ = httpConn.Conn.(*nbio.Conn)
	}
	if socket == nil {
		_ = hijacked.Close()
		return nil, errors.New("engine: upgraded socket is not an nbio connection")
	}
	conn := &wsConn{socket: socket}
	// Before the poller reads the socket's first frame.
	conn.deflate = u.server.config.Compression && acceptsDeflateOffer(request.Header)
	answer := handshakeBuffers.Get().(*[]byte)
	*answer = appendSwitchingProtocols((*answer)[:0], request, conn.deflate)
	open := &opening{answer: answer}
	if u.server.config.Connect != nil {
		// Before the poller sees the socket: a client that sends frames right
		// behind its request has them held too.
		open.held = new(heldFrames)
	}
	conn.opening.Store(open)
	// From here on the poller hands this socket's bytes to conn.parse (Server.onData),
	// never to nbhttp's data handler, which is let go: a method value, 16 bytes per
	// connection (16 MB at 1M connections).
	socket.SetSession(conn)
	socket.OnData(nil)
	if isHTTPConn {
		httpConn.Parser = nil
	}
	publishToPollers()
	// nbhttp's keep-alive deadline belongs to HTTP; liveness of a WebSocket is the
	// hub's heartbeat.
	_ = socket.SetReadDeadline(time.Time{})
	return conn, nil
}

// check returns the HTTP status, error code and error that refuse request, or 0, ""
// and nil.
func (u *upgrader) check(request *http.Request) (int, string, error) {
	switch {
	case !headerHasToken(request.Header, "Connection", "upgrade"), !headerHasToken(request.Header, "Upgrade", "websocket"):
		return http.StatusBadRequest, "not_websocket", errors.New("engine: not a websocket upgrade (Connection: upgrade and Upgrade: websocket are required)")
	case !headerHasToken(request.Header, "Sec-WebSocket-Version", "13"):
		return http.StatusUpgradeRequired, "unsupported_version", errors.New("engine: unsupported Sec-WebSocket-Version (13 is required)")
	case !u.checkOrigin(request):
		return http.StatusForbidden, "origin_not_allowed", errOriginNotAllowed
	}
	key, err := base64.StdEncoding.DecodeString(request.Header.Get("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		return http.StatusBadRequest, "invalid_key", errors.New("engine: Sec-WebSocket-Key is not 16 bytes in base64")
	}
	return 0, "", nil
}

// refuseUpgrade answers a request to the WebSocket path that is not upgraded with
// status and the API's JSON error shape, and the Sec-WebSocket-Version the server
// speaks (RFC 6455 §4.4).
func refuseUpgrade(writer http.ResponseWriter, status int, code, message string) {
	writer.Header().Set("Sec-WebSocket-Version", "13")
	httpjson.Write(writer, status, struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{code, message})
}

// handshakeBuffers recycles the buffers that hold a 101 answer, and the frames the
// hub queues behind it, until completeHandshake writes them (nbio's Write copies
// what the kernel does not take at once): an upgrade allocates no answer of its own.
var handshakeBuffers = sync.Pool{New: func() any {
	buffer := make([]byte, 0, 256)
	return &buffer
}}

// maxPooledHandshake is the largest handshake buffer put back into handshakeBuffers:
// one that grew with many frames queued behind the 101 is left to the collector.
const maxPooledHandshake = 4 << 10

// releaseHandshakeBuffer returns a written handshake buffer to handshakeBuffers.
func releaseHandshakeBuffer(buffer *[]byte) {
	if cap(*buffer) > maxPooledHandshake {
		return
	}
	*buffer = (*buffer)[:0]
	handshakeBuffers.Put(buffer)
}

// appendSwitchingProtocols appends the 101 answer to a valid upgrade request to
// answer, selecting the wsgate subprotocol when the client offers it, and accepting
// permessage-deflate when deflate is set.
func appendSwitchingProtocols(answer []byte, request *http.Request, deflate bool) []byte {
	// The key is 24 bytes of base64 (check), so the buffer stays on the stack.
	keyed := make([]byte, 0, 64)
	keyed = append(keyed, request.Header.Get("Sec-WebSocket-Key")...)
	keyed = append(keyed, acceptGUID...)
	digest := sha1.Sum(keyed)
	answer = append(answer, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	answer = base64.StdEncoding.AppendEncode(answer, digest[:])
	answer = append(answer, "\r\n"...)
	if offersSubprotocol(request) {
		answer = append(answer, "Sec-WebSocket-Protocol: "+Subprotocol+"\r\n"...)
	}
	if deflate {
		answer = append(answer, deflateAnswer...)
	}
	return append(answer, "\r\n"...)
}

// headerHasToken reports whether a comma-separated header of request holds token,
// compared without regard to ASCII case.
func headerHasToken(header http.Header, name, token string) bool {
	for _, value := range header.Values(name) {
		for item := range strings.SplitSeq(value, ",") {
			if strings.EqualFold(strings.TrimSpace(item), token) {
				return true
			}
		}
	}
	return false
}

// offersSubprotocol reports whether the client offers wsgate's subprotocol, which
// is compared exactly (§4.1: subprotocol names are case-sensitive).
func offersSubprotocol(request *http.Request) bool {
	for _, value := range request.Header.Values("Sec-WebSocket-Protocol") {
		for item := range strings.SplitSeq(value, ",") {
			if strings.TrimSpace(item) == Subprotocol {
				return true
			}
		}
	}
	return false
}

// sameOrigin allows requests without Origin (not from a browser) and requests whose
// Origin's host is the Host they were sent to.
func sameOrigin(request *http.Request) bool {
	origin := request.Header.Values("Origin")
	if len(origin) == 0 {
		return true
	}
	parsed, err := url.Parse(origin[0])
	return err == nil && strings.EqualFold(parsed.Host, request.Host)
}
