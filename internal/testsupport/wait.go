package testsupport

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 5 * time.Millisecond

// WaitFor calls condition every 5 ms until it returns true, failing t with what when
// timeout passes first; a timing-sensitive test waits exactly as long as needed
// instead of sleeping a fixed time. Call it from the test's goroutine only (it calls
// t.Fatalf); condition runs on that goroutine too, so it may fail t itself.
func WaitFor(t testing.TB, timeout time.Duration, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}
