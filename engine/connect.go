package engine

import (
	"net/http"
	"sync"

	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The connect decision (Config.Connect): a connection is upgraded first, because a
// browser cannot read the HTTP status of a refused upgrade, and registered only once
// the decision arrives, from whatever goroutine made it (a callbacks worker). In
// between, the poller holds the frames the client sends in a small bounded buffer;
// the decision runs on the connection's executor, attaches the session and hands it
// the held frames in arrival order, and only then are later frames queued to the
// executor, behind it. A connection that closes while the decision is pending is
// marked gone (closeAndClean), so the decision registers nothing, or, if it raced
// the close, closes the session it just opened.

// ConnectDecision is what Config.Connect decided about a connection: accept it as
// Identity (Refusal is ReasonNone and CloseCode 0), refuse it with a reason of the
// close-code table (Refusal), or close it with a code and text of the backend's
// (CloseCode in 4000-4999, CloseText at most 123 bytes).
type ConnectDecision struct {
	Identity  session.Identity
	Refusal   session.CloseReason
	CloseCode uint16
	CloseText string
}

// heldFrame is one frame received while the connect decision was pending.
type heldFrame struct {
	opcode  byte
	payload []byte
}

// heldFrames are the frames of a connection whose connect decision is pending.
// hold runs on the poller goroutine, release on the executor.
type heldFrames struct {
	mutex    sync.Mutex
	frames   []heldFrame
	bytes    int
	released bool
}

// holdResult is what hold did with a frame.
type holdResult uint8

const (
	// notHeld: the decision was made; the frame goes to the executor as usual.
	notHeld holdResult = iota
	// held: the frame waits for the decision.
	held
	// overflowed: the held frames would exceed the limit; the connection fails.
	overflowed
)

// hold keeps a frame (payload is owned by the caller's frame reader hand-off and
// not reused) unless the decision was made already.
func (h *heldFrames) hold(opcode byte, payload []byte, limit int) holdResult {
	h.mutex.Lock()
	defer h.mutex.Unlock()
	if h.released {
		return notHeld
	}
	h.bytes += len(payload)
	if h.bytes > limit {
		return overflowed
	}
	h.frames = append(h.frames, heldFrame{opcode: opcode, payload: payload})
	return held
}

// pending reports whether frames are still held for a decision: h is set (nil
// without Config.Connect) and not released yet.
func (h *heldFrames) pending() bool {
	if h == nil {
		return false
	}
	h.mutex.Lock()
	defer h.mutex.Unlock()
	return !h.released
}

// release returns the held frames, in arrival order; from then on hold holds
// nothing.
func (h *heldFrames) release() []heldFrame {
	h.mutex.Lock()
	defer h.mutex.Unlock()
	h.released = true
	frames := h.frames
	h.frames = nil
	return frames
}

// heldOverflowText is the close text of a connection that sent more than
// Config.MaxHeldBytes before it was accepted.
const heldOverflowText = "too much sent before the connection was accepted"

// awaitDecision writes the 101 of an upgraded connection and asks Config.Connect
// about it; its frames are held (since Upgrade) until the decision. Runs on the
// executor.
func (s *Server) awaitDecision(conn *wsConn, request *http.Request, identity session.Identity) error {
	if err := conn.completeHandshake(); err != nil {
		return err
	}
	s.config.Connect(request, identity, func(decision ConnectDecision) { conn.decide(s, decision) })
	return nil
}

// holds reports whether a frame was held (or the connection failed for holding more
// than limit bytes) instead of going to the executor. Called on the poller
// goroutine.
func (c *wsConn) holds(opcode byte, payload []byte, limit int) bool {
	open := c.opening.Load()
	if open == nil || open.held == nil {
		return false
	}
	switch open.held.hold(opcode, payload, limit) {
	case held:
		return true
	case overflowed:
		_, _ = c.Write(protocol.CloseFrame(protocol.CloseTooBig, heldOverflowText))
		_ = c.socket.Close()
		return true
	}
	return false
}

// dropHeld stops holding frames, and drops those held, for a connection that is
// refused before any decision is asked: from then on its frames go to the executor,
// where the refused session ignores them. Called on the executor before
// completeHandshake.
func (c *wsConn) dropHeld() {
	if open := c.opening.Load(); open != nil && open.held != nil {
		open.held.release()
	}
}

// decide takes the connect decision, on any goroutine, to the executor. A socket
// that closed meanwhile runs nothing: nbio refuses jobs of a closed connection.
func (c *wsConn) decide(server *Server, decision ConnectDecision) {
	if c.gone.Load() {
		return
	}
	c.socket.Execute(func() { c.attach(server.transport, decision) })
}

// attach applies the connect decision on the executor: it opens or refuses the
// session, then hands it the held frames in order and drops the opening state.
func (c *wsConn) attach(transport *session.Transport, decision ConnectDecision) {
	if c.gone.Load() {
		return
	}
	var s *session.Session
	switch {
	case decision.CloseCode != 0:
		s = transport.RefuseWithCode(c, decision.CloseCode, decision.CloseText)
	case decision.Refusal != session.ReasonNone:
		s = transport.Refuse(c, decision.Refusal)
	default:
		s = transport.Open(c, decision.Identity)
	}
	c.session.Store(s)
	// closeAndClean sets gone before it loads the session: either it saw this
	// session, or this sees gone (Closed runs its cleanup once either way).
	if c.gone.Load() {
		transport.Closed(s, session.ReasonError)
		return
	}
	frames := c.opening.Load().held.release()
	c.opening.Store(nil)
	for _, frame := range frames {
		dispatch(transport, s, frame.opcode, frame.payload)
	}
}

// dispatch hands one held frame to the transport; on the executor.
func dispatch(transport *session.Transport, s *session.Session, opcode byte, payload []byte) {
	switch opcode {
	case opText:
		transport.HandleText(s, payload)
	case opBinary:
		transport.HandleBinary(s, payload)
	case opPing:
		transport.HandlePing(s, payload)
	case opPong:
		transport.HandlePong(s)
	}
}
