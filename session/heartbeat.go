package session

import (
	"time"

	"github.com/wsgate/wsgate/protocol"
)

// The heartbeat costs one timer per connection and one or two wheel operations per
// ping interval (send the ping; check the answer when the timeout is shorter than the
// interval); inbound frames only store a timestamp. At 1M connections and a 30 s
// interval that is at most about 67,000 wheel operations and 33,000 ping writes per
// second, spread evenly because every connection starts at a random phase.

// armHeartbeat schedules the first ping at a random phase within one interval, so
// 10,000 clients that connect in the same second are pinged spread over the interval.
func (h *Hub) armHeartbeat(s *Session) {
	if h.config.PingInterval < 0 {
		return
	}
	phase := randomDuration(h.config.PingInterval) + time.Nanosecond
	s.nextPingAt = h.clock() + int64(phase)
	h.scheduleHeartbeat(s, phase)
}

// scheduleHeartbeat arms s's timer for its next heartbeat run. The timer is shared
// with the close grace: a close that raced with this call (from another goroutine,
// between registration and arming, or during a heartbeat run) armed its grace on the
// same timer before this replaced it, so the grace is armed again; otherwise the
// socket would stay open until the next ping.
func (h *Hub) scheduleHeartbeat(s *Session, delay time.Duration) {
	h.wheel.Schedule(&s.timer, delay)
	if !s.IsOpen() {
		h.wheel.Schedule(&s.timer, h.closeGrace)
	}
}

// heartbeat runs on the timer wheel's goroutine for an open session. It sends a ping
// every PingInterval, whatever the timeout. The oldest ping that no inbound frame has
// followed yet must be answered within PingTimeout: any frame counts, and once one
// arrives the clock restarts at the next ping. A peer that sends nothing is closed with
// ReasonHeartbeatTimeout PingTimeout (plus at most one tick) after that ping.
//
// A frame answers every ping sent before it, and the first frame after a ping takes
// roundTripFrom (touch), which only this goroutine sets again when it pings: a run
// that finds it taken, or takes it back from a frame when it pings, knows that the
// peer answered. Since every ping is sent by a run, no frame goes unnoticed.
func (h *Hub) heartbeat(s *Session) {
	now := h.clock()
	if s.roundTripFrom.Load() == 0 {
		s.unansweredSince = 0
	}
	if s.unansweredSince != 0 && now >= s.unansweredSince+int64(h.config.PingTimeout) {
		s.Close(ReasonHeartbeatTimeout)
		return
	}
	if now >= s.nextPingAt {
		if s.roundTripFrom.Swap(now) == 0 {
			s.unansweredSince = 0
		}
		if s.unansweredSince == 0 {
			s.unansweredSince = now
		}
		if s.Send(protocol.PingFrame()) {
			h.counters.pingsSent.Add(1)
		}
		s.nextPingAt = max(s.nextPingAt+int64(h.config.PingInterval), now+1)
	}
	next := s.nextPingAt
	if s.unansweredSince != 0 {
		next = min(next, s.unansweredSince+int64(h.config.PingTimeout))
	}
	h.scheduleHeartbeat(s, time.Duration(max(next-now, 1)))
}
