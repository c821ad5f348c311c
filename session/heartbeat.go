package session

import "time"

// The heartbeat costs one timer per connection and two wheel operations per ping
// interval (send the ping, check the answer); inbound frames only store a timestamp.
// At 1M connections and a 30 s interval that is about 67,000 wheel operations and
// 33,000 ping writes per second, spread evenly because every connection starts at a
// random phase.

// armHeartbeat schedules the first ping at a random phase within one interval, so
// 10,000 clients that connect in the same second are pinged spread over the interval.
func (h *Hub) armHeartbeat(s *Session) {
	if h.config.PingInterval < 0 {
		return
	}
	h.wheel.Schedule(&s.timer, randomDuration(h.config.PingInterval)+time.Nanosecond)
}

// heartbeat runs on the timer wheel's goroutine for an open session. With no ping
// outstanding it sends one and waits PingTimeout; with one outstanding it checks that
// a frame arrived since the ping, then schedules the next ping one interval after the
// previous one, or closes the connection with ReasonHeartbeatTimeout.
func (h *Hub) heartbeat(s *Session) {
	now := h.clock()
	if s.pingSentAt == 0 {
		s.pingSentAt = now
		s.roundTripFrom.Store(now)
		if s.Send(h.pingFrame) {
			h.counters.pingsSent.Add(1)
			h.countSent(1, len(h.pingFrame))
		}
		h.wheel.Schedule(&s.timer, h.config.PingTimeout)
		return
	}
	if s.lastSeen.Load() < s.pingSentAt {
		s.Close(ReasonHeartbeatTimeout)
		return
	}
	nextPing := time.Duration(s.pingSentAt + int64(h.config.PingInterval) - now)
	s.pingSentAt = 0
	h.wheel.Schedule(&s.timer, max(nextPing, time.Nanosecond))
}
