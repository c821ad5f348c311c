package main

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h: with it, binding a
// source address leaves the port to connect(2), which may reuse a port for another
// destination, so ports held in TIME_WAIT by an earlier run do not block new binds.
const ipBindAddressNoPort = 24

// newClientEngine returns an nbio client engine, not started, whose pollers (one per
// CPU) run the message handlers inline: a fixed number of goroutines however many
// connections it serves. Name labels its goroutines.
func newClientEngine(name string) *nbhttp.Engine {
	return nbhttp.NewEngine(nbhttp.Config{
		Name:                    name,
		NPoller:                 runtime.GOMAXPROCS(0),
		IOMod:                   nbhttp.IOModNonBlocking,
		ReleaseWebsocketPayload: true,
		ServerExecutor:          func(job func()) { job() },
	})
}

// sourceOf returns the source address of dialing goroutine worker (nil: any).
func sourceOf(sources []net.IP, worker int) net.IP {
	if len(sources) == 0 {
		return nil
	}
	return sources[worker%len(sources)]
}

// errDialTimeout is returned when the upgrade does not complete in time.
var errDialTimeout = errors.New("dial: timed out")

// dialer opens WebSocket connections through nbio's client from one local source
// address; each dialing goroutine owns one. nbio v1.6.8's websocket.Dialer cannot
// choose the local address, so dial is its DialContext with nbhttp.ClientConn.Dial
// set: the same upgrade request, the same checks of the answer, and the same
// hand-over of the socket to a websocket.Conn that the engine's pollers then serve.
type dialer struct {
	engine  *nbhttp.Engine
	options *websocket.Upgrader
	network net.Dialer
	timeout time.Duration
	// compression offers permessage-deflate without context takeover either way, as
	// nbio's own Dialer does.
	compression bool
}

// newDialer returns a dialer bound to source (nil: the kernel chooses).
func newDialer(engine *nbhttp.Engine, options *websocket.Upgrader, source net.IP, timeout time.Duration) *dialer {
	d := &dialer{engine: engine, options: options, timeout: timeout}
	d.network.Timeout = timeout
	if source != nil {
		d.network.LocalAddr = &net.TCPAddr{IP: source}
		d.network.Control = func(_, _ string, raw syscall.RawConn) error {
			var optionError error
			err := raw.Control(func(fd uintptr) {
				optionError = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			})
			return errors.Join(err, optionError)
		}
	}
	return d
}

// dial opens one WebSocket connection to target (a ws:// URL).
func (d *dialer) dial(target *url.URL) (*websocket.Conn, error) {
	key, err := challengeKey()
	if err != nil {
		return nil, err
	}
	request := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Scheme: "http", Host: target.Host, Path: target.Path, RawQuery: target.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       target.Host,
		Header: http.Header{
			"Upgrade":               {"websocket"},
			"Connection":            {"Upgrade"},
			"Sec-Websocket-Key":     {key},
			"Sec-Websocket-Version": {"13"},
		},
	}
	if d.compression {
		request.Header.Set("Sec-Websocket-Extensions", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	}
	type outcome struct {
		conn *websocket.Conn
		err  error
	}
	done := make(chan outcome, 1)
	client := &nbhttp.ClientConn{Engine: d.engine, Timeout: d.timeout, Dial: d.network.Dial}
	client.Do(request, func(response *http.Response, conn net.Conn, err error) {
		if err == nil {
			var upgraded *websocket.Conn
			upgraded, err = d.adopt(response, conn, key)
			select {
			case done <- outcome{upgraded, err}:
			default:
			}
			return
		}
		select {
		case done <- outcome{nil, err}:
		default:
		}
	})
	timer := time.NewTimer(d.timeout)
	defer timer.Stop()
	select {
	case result := <-done:
		if result.err != nil {
			client.CloseWithError(result.err)
		}
		return result.conn, result.err
	case <-timer.C:
		client.CloseWithError(errDialTimeout)
		return nil, errDialTimeout
	}
}

// adopt checks the server's answer to the upgrade and turns the socket into a
// WebSocket connection served by the engine.
func (d *dialer) adopt(response *http.Response, conn net.Conn, key string) (*websocket.Conn, error) {
	if response.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(response.Header.Get("Upgrade"), "websocket") ||
		!strings.Contains(strings.ToLower(response.Header.Get("Connection")), "upgrade") ||
		response.Header.Get("Sec-Websocket-Accept") != acceptKey(key) {
		return nil, fmt.Errorf("dial: bad handshake: HTTP %d", response.StatusCode)
	}
	socket, ok := conn.(*nbio.Conn)
	if !ok {
		return nil, errors.New("dial: not an nbio connection")
	}
	parser, ok := socket.Session().(*nbhttp.Parser)
	if !ok {
		return nil, errors.New("dial: no HTTP parser on the connection")
	}
	// A server that accepted compression may send compressed frames (inflated by the
	// connection); the generator's own messages go uncompressed either way.
	accepted := strings.HasPrefix(response.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate")
	upgraded := websocket.NewClientConn(d.options, conn, "", accepted, false)
	upgraded.EnableWriteCompression(false)
	parser.ParserCloser = upgraded
	upgraded.Engine = parser.Engine
	upgraded.Execute = parser.Execute
	socket.SetSession(upgraded)
	return upgraded, nil
}

// challengeKey returns a random Sec-WebSocket-Key.
func challengeKey() (string, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(nonce[:]), nil
}

// acceptKey is the Sec-WebSocket-Accept a server must answer to key (RFC 6455 4.2.2).
func acceptKey(key string) string {
	hash := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(hash[:])
}
