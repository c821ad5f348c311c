package session

import (
	"math"
	"sync/atomic"
	"time"
)

// connectLimiter is the node's token bucket for new connections
// (Config.MaxConnectsPerSecond), kept as one atomic word in the form of the generic
// cell rate algorithm: theoretical is the hub clock at which the bucket would be
// full again. A connect at now takes a token when theoretical, advanced by one
// interval, stays within burst intervals of now. One compare-and-swap per connect,
// no lock and no timer; safe for concurrent use.
type connectLimiter struct {
	// interval is the time one token takes to come back, in nanoseconds; 0 means no
	// limit.
	interval int64
	// tolerance is burst x interval: how far ahead of now theoretical may run.
	tolerance   int64
	theoretical atomic.Int64
}

// newConnectLimiter returns a limiter of perSecond connects a second with a bucket of
// one second's worth (at least 1); perSecond <= 0 means no limit.
func newConnectLimiter(perSecond float64) *connectLimiter {
	if perSecond <= 0 {
		return &connectLimiter{}
	}
	interval := max(int64(float64(time.Second)/perSecond), 1)
	burst := max(math.Ceil(perSecond), 1)
	return &connectLimiter{interval: interval, tolerance: int64(burst) * interval}
}

// take reports whether a connect at now (hub clock, nanoseconds) may go on, taking
// a token if so.
func (limiter *connectLimiter) take(now int64) bool {
	if limiter.interval == 0 {
		return true
	}
	for {
		theoretical := limiter.theoretical.Load()
		next := max(theoretical, now) + limiter.interval
		if next-now > limiter.tolerance {
			return false
		}
		if limiter.theoretical.CompareAndSwap(theoretical, next) {
			return true
		}
	}
}
