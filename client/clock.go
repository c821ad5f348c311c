package client

import "time"

// Clock is the time source a Client measures connection lifetimes and waits out
// reconnect delays with. Tests inject a fake one to check delays without waiting.
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once duration d has passed.
	After(d time.Duration) <-chan time.Time
}

// systemClock is the default Clock: the time package.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
