package session

import "time"

// rateLimiter is a per-connection token bucket for inbound messages. It is refilled
// from the elapsed time when a message arrives, so it needs no timer: at 1M
// connections it costs 24 bytes each and nothing while idle. Only the connection's
// own handler goroutine (which handles its messages one at a time) touches it.
type rateLimiter struct {
	tokens     float64
	refilledAt int64 // hub clock, nanoseconds
	// windowStart and rejected count the messages dropped in the current one-second
	// window; a client that has more of them than its rate is flooding.
	windowStart int64
	rejected    int32
}

// rateVerdict is what the limiter decided about one inbound message.
type rateVerdict uint8

const (
	rateAllowed rateVerdict = iota
	rateDropped
	rateFlooding
)

// admit takes one token for a message arriving at now (hub clock). The bucket starts
// full. Over the rate the message is dropped; a connection with more dropped messages
// than its per-second rate within one second is flooding and will be closed.
func (limiter *rateLimiter) admit(now int64, perSecond float64, burst int) rateVerdict {
	if limiter.refilledAt == 0 {
		limiter.tokens = float64(burst)
	} else {
		elapsed := time.Duration(now - limiter.refilledAt).Seconds()
		limiter.tokens = min(float64(burst), limiter.tokens+elapsed*perSecond)
	}
	limiter.refilledAt = now
	if limiter.tokens >= 1 {
		limiter.tokens--
		return rateAllowed
	}
	if now-limiter.windowStart > int64(time.Second) {
		limiter.windowStart = now
		limiter.rejected = 0
	}
	limiter.rejected++
	if float64(limiter.rejected) > perSecond {
		return rateFlooding
	}
	return rateDropped
}
