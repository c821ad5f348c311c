package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// subscriber is one client of the storm: it subscribes to the channel on the first
// node, follows the publications' offsets, and after the cut reconnects to the
// second node with the Go client's backoff and resubscribes with recover, as
// package client does. Its fields other than conn and the atomics are used by its
// own goroutine only.
type subscriber struct {
	channel string
	// offset and epoch are the position of the last publication received.
	offset uint64
	epoch  string
	// conn is the current connection, for the cut.
	conn atomic.Pointer[websocket.Conn]

	// answered is set once the resubscribe after the cut was answered.
	answered atomic.Bool
	// Outcomes, read by the report once the subscriber's goroutine ended.
	duplicates, gaps int
	attempts         int
	recovered        int // 1 recovered:true, 0 not yet, -1 recovered:false
	recoveredAfter   time.Duration
	// connectedAfter is when the successful reconnect's WebSocket handshake
	// completed, since the cut.
	connectedAfter time.Duration
	caughtUp       atomic.Uint64 // the last offset received
}

// backoffDelay is package client's reconnect delay: full jitter, random *
// min(maxDelay, baseDelay * 2^(attempt-1)).
func backoffDelay(attempt int, baseDelay, maxDelay time.Duration) time.Duration {
	ceiling := baseDelay
	for step := 1; step < attempt && ceiling < maxDelay; step++ {
		ceiling *= 2
	}
	return time.Duration(rand.Float64() * float64(min(ceiling, maxDelay)))
}

// dialer opens the storm's connections; gorilla's Dialer is safe for concurrent use.
var dialer = websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}

// answer is what the subscriber reads of the server's messages.
type answer struct {
	Type      string `json:"type"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Recovered *bool  `json:"recovered"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// join connects to url and subscribes, recovering from the subscriber's position
// when recover is set; it returns the "subscribed" answer, and sets
// connectedAfter to the time since cut when the handshake completed.
func (s *subscriber) join(url string, recover bool, cut time.Time) (answer, error) {
	conn, _, err := dialer.Dial(url, nil)
	if err != nil {
		return answer{}, err
	}
	s.connectedAfter = time.Since(cut)
	request := map[string]any{"type": "subscribe", "channel": s.channel}
	if recover {
		request["recover"], request["offset"], request["epoch"] = true, s.offset, s.epoch
	}
	if err := conn.WriteJSON(request); err != nil {
		_ = conn.Close()
		return answer{}, err
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			_ = conn.Close()
			return answer{}, err
		}
		var message answer
		if err := json.Unmarshal(data, &message); err != nil {
			_ = conn.Close()
			return answer{}, fmt.Errorf("unreadable answer %s: %w", data, err)
		}
		switch message.Type {
		case "ping":
			if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`)); err != nil {
				_ = conn.Close()
				return answer{}, err
			}
		case "subscribed":
			s.conn.Store(conn)
			return message, nil
		case "error":
			_ = conn.Close()
			return answer{}, fmt.Errorf("subscribe refused: %s %s", message.Code, message.Message)
		}
	}
}

// start subscribes on the first node.
func (s *subscriber) start(url string) error {
	subscribed, err := s.join(url, false, time.Now())
	if err != nil {
		return err
	}
	s.offset, s.epoch = subscribed.Offset, subscribed.Epoch
	s.caughtUp.Store(s.offset)
	return nil
}

// publicationPrefix starts every publication frame: the subscriber reads the
// offset of those without decoding the JSON, which would cost the generator more
// than the server spends on a delivery.
var publicationPrefix = []byte(`{"type":"publication"`)

// offsetKey precedes a publication's offset (after its data).
var offsetKey = []byte(`,"offset":`)

// follow reads publications until the connection breaks, checking that offsets
// follow each other; it returns the read error.
func (s *subscriber) follow() error {
	conn := s.conn.Load()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			_ = conn.Close()
			return err
		}
		if !bytes.HasPrefix(data, publicationPrefix) {
			if bytes.Contains(data, []byte(`"type":"ping"`)) {
				_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
			}
			continue
		}
		at := bytes.LastIndex(data, offsetKey)
		if at < 0 {
			s.gaps++ // a publication without an offset: delivered outside history
			continue
		}
		offset, err := strconv.ParseUint(string(bytes.TrimRight(data[at+len(offsetKey):], "}")), 10, 64)
		if err != nil {
			return fmt.Errorf("unreadable offset in %s", data)
		}
		switch {
		case offset <= s.offset:
			s.duplicates++
			continue
		case offset != s.offset+1:
			s.gaps++
		}
		s.offset = offset
		s.caughtUp.Store(offset)
	}
}

// reconnect reconnects to url with backoff until it is subscribed again, recording
// the outcome and the time since cut.
func (s *subscriber) reconnect(ctx context.Context, url string, cut time.Time, baseDelay, maxDelay time.Duration) error {
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoffDelay(attempt, baseDelay, maxDelay)):
		}
		s.attempts = attempt
		subscribed, err := s.join(url, true, cut)
		if err != nil {
			continue
		}
		s.recoveredAfter = time.Since(cut)
		if subscribed.Recovered != nil && *subscribed.Recovered {
			s.recovered = 1
		} else {
			s.recovered = -1
			s.offset, s.epoch = subscribed.Offset, subscribed.Epoch
			s.caughtUp.Store(s.offset)
		}
		s.answered.Store(true)
		return nil
	}
}

// cutConnection closes the subscriber's socket without a close frame, as a lost
// network does.
func (s *subscriber) cutConnection() {
	if conn := s.conn.Load(); conn != nil {
		if tcp, ok := conn.UnderlyingConn().(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = conn.UnderlyingConn().Close()
	}
}

// run follows publications, and after the cut (the first read error once cutting
// is set) reconnects to second and follows again until ctx ends.
func (s *subscriber) run(ctx context.Context, second string, cutting *atomic.Bool, cutAt *atomic.Int64,
	baseDelay, maxDelay time.Duration, done *sync.WaitGroup, failures chan<- error) {
	defer done.Done()
	err := s.follow()
	if ctx.Err() != nil {
		return
	}
	if !cutting.Load() {
		failures <- fmt.Errorf("connection lost before the cut: %w", err)
		return
	}
	if err := s.reconnect(ctx, second, time.Unix(0, cutAt.Load()), baseDelay, maxDelay); err != nil {
		return
	}
	go func() {
		<-ctx.Done()
		if conn := s.conn.Load(); conn != nil {
			_ = conn.Close()
		}
	}()
	if err := s.follow(); ctx.Err() == nil {
		failures <- fmt.Errorf("connection lost after recovery: %w", err)
	}
}
