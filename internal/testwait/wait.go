// Package testwait polls a condition with a deadline, so timing-sensitive tests wait
// exactly as long as needed instead of sleeping a fixed time.
package testwait

import (
	"testing"
	"time"
)

// pollInterval is how often For checks its condition.
const pollInterval = 5 * time.Millisecond

// For calls condition every 5 ms until it returns true, failing t with what when
// timeout passes first. Safe to call from the test goroutine only (it calls t.Fatalf).
func For(t testing.TB, timeout time.Duration, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}
