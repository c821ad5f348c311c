package engine

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
)

// nbhttp parses an HTTP request on the event loop and buffers its whole body before
// any handler runs; it has no hook between the headers and the body, no limit on the
// size of the headers, and it answers a request it cannot take (too long, not HTTP)
// by closing the socket, which the client sees as a reset. The request guard sits in
// that gap: it wraps each connection's nbhttp request processor, so it sees the
// request line, each header and each body chunk as the parser delivers them, and it
// answers every request it stops (with Config.Screen's answer, or its own in the
// API's JSON error shape) on the connection's own executor, after the answers to the
// requests before it, then closes the connection.

// MaxHeaderSize is the most bytes one HTTP request's line and headers may take; a
// larger request is answered 431. It applies to WebSocket upgrade requests too (a
// browser sends its cookies with them): 64 KiB is far above what browsers send, and
// it bounds the memory of a client that sends headers without end, which nbhttp
// alone would accumulate.
const MaxHeaderSize = 64 << 10

// lingerTimeout is how long a connection whose request was refused stays open after
// the answer, discarding what the client still sends (the rest of a body it did not
// hold back), so that the client reads the answer instead of a reset. The client's
// own close ends it sooner.
const lingerTimeout = 5 * time.Second

// refusal is the engine's own answer to a request it stops while reading it, in
// the JSON shape of the API's errors ({"error":code,"message":text}).
type refusal struct {
	status  int
	Error   string `json:"error"`
	Message string `json:"message"`
}

// The engine's refusals.
var (
	refusalMalformed = refusal{status: http.StatusBadRequest, Error: "bad_request"}
	refusalBody      = refusal{status: http.StatusRequestEntityTooLarge, Error: "body_too_large"}
	refusalHeaders   = refusal{status: http.StatusRequestHeaderFieldsTooLarge, Error: "headers_too_large",
		Message: "the request line and headers exceed " + strconv.Itoa(MaxHeaderSize) + " bytes"}
)

// ServeHTTP writes the refusal.
func (r refusal) ServeHTTP(writer http.ResponseWriter, _ *http.Request) {
	body, _ := json.Marshal(r)
	writer.Header().Set("Content-Type", "application/json")
	writer.WriteHeader(r.status)
	_, _ = writer.Write(append(body, '\n'))
}

// with returns the refusal with message.
func (r refusal) with(message string) refusal {
	r.Message = message
	return r
}

// requestGuard is one connection's nbhttp request processor with the limits and
// the screen around it. nbhttp calls its methods on the event loop, under the
// parser's lock, in the order of the bytes on the wire; Server.onData reads its
// state on the same goroutine, between those calls.
type requestGuard struct {
	nbhttp.Processor
	server *Server
	parser *nbhttp.Parser
	conn   *nbio.Conn
	// The request being read, reset by OnMethod. fields are its header lines, the
	// same strings nbhttp's own request holds (no second header map per request:
	// about 330 bytes of garbage per connect); a pooled list, released by OnComplete.
	method, target string
	fields         *[]headerField
	headerSize     int
	bodySize       int
	inBody         bool
	// refused is the answer to the request being read once it is stopped; the
	// parser then hands every further byte to discarded, and onData sends it.
	refused http.Handler
	request *http.Request
	// answered is set once the refusal was handed to the executor: one answer per
	// connection, which closes after it.
	answered bool
}

// headerField is one header line of a request, as the parser delivered it.
type headerField struct{ key, value string }

// headerFieldsPool recycles the guards' header lists: a request line and its headers
// cost the guard no allocation of its own.
var headerFieldsPool = sync.Pool{New: func() any {
	fields := make([]headerField, 0, 16)
	return &fields
}}

// onData replaces nbhttp's data handler for every socket: a socket still speaking
// HTTP goes through its guard, an upgraded WebSocket to its own parser.
func (s *Server) onData(conn *nbio.Conn, data []byte) {
	if ws, upgraded := conn.Session().(*wsConn); upgraded {
		s.parseWebSocket(ws, data)
		return
	}
	parser, isHTTP := conn.Session().(*nbhttp.Parser)
	if !isHTTP {
		conn.DataHandler()(conn, data)
		return
	}
	guard, guarded := parser.Processor.(*requestGuard)
	if !guarded {
		guard = &requestGuard{Processor: parser.Processor, server: s, parser: parser, conn: conn}
		parser.Processor = guard
	}
	err := parser.Parse(data)
	switch {
	case guard.refused != nil:
		guard.answer()
	case err == nil:
	case parser.ParserCloser != nil || errors.Is(err, net.ErrClosed):
		// An upgraded connection's own parser failed: it is closed as nbhttp does.
		_ = conn.CloseWithError(err)
	case errors.Is(err, nbhttp.ErrTooLong) && guard.inBody:
		guard.refuse(guard.bodyTooLarge())
		guard.answer()
	case errors.Is(err, nbhttp.ErrTooLong):
		guard.refuse(refusalHeaders)
		guard.answer()
	default:
		guard.refuse(refusalMalformed.with("malformed HTTP request: " + err.Error()))
		guard.answer()
	}
}

// OnMethod starts a request.
func (g *requestGuard) OnMethod(parser *nbhttp.Parser, method string) {
	g.Processor.OnMethod(parser, method)
	g.method, g.target = method, ""
	if g.fields == nil {
		g.fields = headerFieldsPool.Get().(*[]headerField)
	}
	*g.fields = (*g.fields)[:0]
	g.headerSize, g.bodySize, g.inBody = len(method), 0, false
}

// OnURL keeps the request target for the screen.
func (g *requestGuard) OnURL(parser *nbhttp.Parser, target string) error {
	g.target = target
	g.headerSize += len(target)
	return g.Processor.OnURL(parser, target)
}

// OnHeader keeps the header for the screen and stops a request whose headers
// exceed MaxHeaderSize.
func (g *requestGuard) OnHeader(parser *nbhttp.Parser, key, value string) {
	g.Processor.OnHeader(parser, key, value)
	*g.fields = append(*g.fields, headerField{key: key, value: value})
	g.headerSize += len(key) + len(value) + len(": \r\n")
	if g.headerSize > MaxHeaderSize {
		g.refuse(refusalHeaders)
	}
}

// OnContentLength comes when the headers are complete (length is -1 without a
// Content-Length): a request that announces a body is screened, and refused when
// its Content-Length is over the limit, before any of the body is read.
func (g *requestGuard) OnContentLength(parser *nbhttp.Parser, length int) {
	g.Processor.OnContentLength(parser, length)
	g.inBody = true
	chunked := length < 0 && g.hasHeader("Transfer-Encoding")
	if length <= 0 && !chunked || g.refused != nil {
		return
	}
	if screen := g.server.config.Screen; screen != nil {
		request, err := g.screenRequest(length)
		if err != nil {
			g.refuse(refusalMalformed.with("malformed HTTP request: " + err.Error()))
			return
		}
		if handler := screen(request); handler != nil {
			g.stop(handler, request)
			return
		}
	}
	if length > g.server.config.MaxBodySize {
		g.refuse(g.bodyTooLarge())
		return
	}
	if strings.EqualFold(g.firstHeader("Expect"), "100-continue") {
		// nbhttp never answers it, so a client that waits for it (curl does for large
		// bodies) would wait its own timeout before sending the body. The executor
		// keeps it behind the answers to earlier requests.
		conn := g.conn
		g.parser.Execute(func() { _, _ = conn.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")) })
	}
}

// OnBody counts the body as it arrives (a chunked body chunk by chunk) and stops
// it once it is over Config.MaxBodySize.
func (g *requestGuard) OnBody(parser *nbhttp.Parser, data []byte) error {
	if g.refused != nil {
		return nil
	}
	g.bodySize += len(data)
	if g.bodySize > g.server.config.MaxBodySize {
		g.refuse(g.bodyTooLarge())
		return nil
	}
	return g.Processor.OnBody(parser, data)
}

// OnComplete hands the request to nbhttp, which runs the handler.
func (g *requestGuard) OnComplete(parser *nbhttp.Parser) {
	g.inBody = false
	g.releaseFields()
	g.Processor.OnComplete(parser)
}

// releaseFields returns the header list to the pool, cleared so that the pool keeps
// no request's strings alive.
func (g *requestGuard) releaseFields() {
	if g.fields == nil {
		return
	}
	clear(*g.fields)
	*g.fields = (*g.fields)[:0]
	headerFieldsPool.Put(g.fields)
	g.fields = nil
}

// hasHeader reports whether the request being read has a header named key (in
// canonical form, as the parser delivers it).
func (g *requestGuard) hasHeader(key string) bool {
	for _, field := range *g.fields {
		if field.key == key {
			return true
		}
	}
	return false
}

// firstHeader returns the first value of the header named key (canonical), or "".
func (g *requestGuard) firstHeader(key string) string {
	for _, field := range *g.fields {
		if field.key == key {
			return field.value
		}
	}
	return ""
}

// header returns the headers of the request being read as an http.Header: only a
// screened request (one with a body) pays for the map.
func (g *requestGuard) header() http.Header {
	header := make(http.Header, len(*g.fields))
	for _, field := range *g.fields {
		header[field.key] = append(header[field.key], field.value)
	}
	return header
}

// screenRequest builds the request the screen sees from what the guard kept.
func (g *requestGuard) screenRequest(length int) (*http.Request, error) {
	target, err := url.ParseRequestURI(g.target)
	if err != nil {
		return nil, err
	}
	header := g.header()
	request := &http.Request{Method: g.method, URL: target, RequestURI: g.target, Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: header, Body: http.NoBody, ContentLength: int64(length),
		Host: header.Get("Host"), RemoteAddr: g.conn.RemoteAddr().String()}
	return request, nil
}

// bodyTooLarge is the refusal of a body over Config.MaxBodySize.
func (g *requestGuard) bodyTooLarge() refusal {
	return refusalBody.with("the request body exceeds " + strconv.Itoa(g.server.config.MaxBodySize) + " bytes")
}

// refuse stops the request being read with the engine's own refusal.
func (g *requestGuard) refuse(answer refusal) {
	g.stop(answer, &http.Request{Method: g.method, URL: &url.URL{Path: "/"}, Header: http.Header{},
		Body: http.NoBody, RemoteAddr: g.conn.RemoteAddr().String()})
}

// stop stops the request being read, unless it is already stopped, to be answered
// by handler: the parser hands every further byte of the connection to discarded.
func (g *requestGuard) stop(handler http.Handler, request *http.Request) {
	if g.refused != nil {
		return
	}
	g.refused, g.request = handler, request
	g.parser.ParserCloser = discarded{g.conn}
}

// answer sends the refusal once, after the answers to the connection's earlier
// requests (on its executor), with "Connection: close"; the connection then lingers
// (see lingerTimeout) and closes.
func (g *requestGuard) answer() {
	if g.answered {
		return
	}
	g.answered = true
	g.server.handshakes.completed(g.conn)
	conn, handler, request := g.conn, g.refused, g.request
	if !g.parser.Execute(func() {
		// The deadline first: whatever the handler does, the connection ends.
		_ = conn.SetReadDeadline(time.Now().Add(lingerTimeout))
		_, _ = conn.Write(recordAnswer(handler, request))
	}) {
		_ = conn.Close()
	}
}

// discarded takes the place of the HTTP parser on a connection whose request was
// refused: what the client still sends is dropped without being buffered.
type discarded struct{ conn net.Conn }

func (d discarded) UnderlayerConn() net.Conn { return d.conn }
func (discarded) Parse([]byte) error         { return nil }
func (discarded) CloseAndClean(error)        {}
