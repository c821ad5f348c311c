package session

import (
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/timerwheel"
)

// expiry closes a session with ReasonTokenExpired when its credentials expire. It is
// allocated only for sessions opened with an expiry (in the session's extras), so a
// session without one pays nothing for it; one with it pays 48 bytes (the timer and
// the session pointer), never a runtime timer.
type expiry struct {
	timer   timerwheel.Timer
	session *Session
}

// expiryKind is the Kind of expiry timers: the credentials have expired. Closing an
// already closing or closed session has no effect. The expiry lies its timer field's
// offset before the timer.
var expiryKind = timerwheel.NewOwnerKind(unsafe.Offsetof(expiry{}.timer), func(e *expiry, _ time.Time) {
	e.session.Close(ReasonTokenExpired)
})

// newExpiry gives s an expiry timer when its credentials expire at expiresAt (not
// the zero time); called before s is registered, once s has its extras.
func newExpiry(s *Session, expiresAt time.Time) {
	if expiresAt.IsZero() {
		return
	}
	s.extras.expiry = &expiry{session: s}
	s.extras.expiry.timer.Init(expiryKind)
}

// expiryOf returns s's expiry, or nil.
func expiryOf(s *Session) *expiry {
	if s.extras == nil {
		return nil
	}
	return s.extras.expiry
}

// armExpiry schedules the expiry of a session that just entered the registry. If the
// session closed meanwhile, Closed may have run before the timer was armed, so the
// timer is taken back here: a closed session must not stay reachable from the wheel
// until its token's expiry.
func (h *Hub) armExpiry(s *Session, expiresAt time.Time) {
	expiry := expiryOf(s)
	if expiry == nil {
		return
	}
	h.wheel.ScheduleAt(&expiry.timer, expiresAt)
	if !s.IsOpen() {
		h.cancelExpiry(s)
	}
}

// cancelExpiry disarms the session's expiry timer, if it has one.
func (h *Hub) cancelExpiry(s *Session) {
	if expiry := expiryOf(s); expiry != nil {
		h.wheel.Cancel(&expiry.timer)
	}
}
