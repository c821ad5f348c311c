package callbacks

import (
	"sync"
	"time"
)

// BreakerState is the state of an Endpoint's circuit breaker.
type BreakerState int

// The breaker's states.
const (
	// BreakerClosed lets every call through, counting consecutive failures.
	BreakerClosed BreakerState = iota
	// BreakerOpen fails every call at once with ErrCircuitOpen until the cooldown
	// has passed.
	BreakerOpen
	// BreakerHalfOpen has let one probe call through after the cooldown; the other
	// calls fail fast until the probe's outcome closes or reopens the breaker.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half_open".
func (state BreakerState) String() string {
	switch state {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half_open"
	}
	return "closed"
}

// breaker opens after threshold consecutive failures and lets one probe through
// every cooldown while open. Its mutex is held for a few comparisons only, never
// across a call.
type breaker struct {
	threshold int
	cooldown  time.Duration
	// onChange is called, outside the mutex, when the state changes.
	onChange func(from, to BreakerState)

	mutex    sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
}

// allow reports whether a call may start now. In the open state after the
// cooldown it moves to half-open and lets this one call through as the probe.
func (b *breaker) allow(now time.Time) bool {
	b.mutex.Lock()
	switch b.state {
	case BreakerClosed:
		b.mutex.Unlock()
		return true
	case BreakerOpen:
		if now.Sub(b.openedAt) < b.cooldown {
			b.mutex.Unlock()
			return false
		}
		b.state = BreakerHalfOpen
		b.mutex.Unlock()
		b.onChange(BreakerOpen, BreakerHalfOpen)
		return true
	}
	b.mutex.Unlock()
	return false
}

// record reports the outcome of a call that allow let through.
func (b *breaker) record(success bool, now time.Time) {
	b.mutex.Lock()
	from := b.state
	switch {
	case success:
		b.failures = 0
		b.state = BreakerClosed
	case b.state == BreakerHalfOpen:
		b.state, b.openedAt = BreakerOpen, now
	default:
		b.failures++
		if b.state == BreakerClosed && b.failures >= b.threshold {
			b.state, b.openedAt = BreakerOpen, now
		}
	}
	to := b.state
	b.mutex.Unlock()
	if from != to {
		b.onChange(from, to)
	}
}

// abandon reports that a call allow let through never ran (the queue was full): a
// probe gives its turn back, so the next call probes instead.
func (b *breaker) abandon() {
	b.mutex.Lock()
	if b.state == BreakerHalfOpen {
		b.state = BreakerOpen
	}
	b.mutex.Unlock()
}

// current returns the state.
func (b *breaker) current() BreakerState {
	b.mutex.Lock()
	defer b.mutex.Unlock()
	return b.state
}
