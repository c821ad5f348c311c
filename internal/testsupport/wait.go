package testsupport

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor and Eventually check their condition.
const pollInterval = 5 * time.Millisecond

// WaitFor calls condition every 5 ms until it returns true, failing t with what when
// timeout passes first; a timing-sensitive test waits exactly as long as needed
// instead of sleeping a fixed time. Call it from the test's goroutine only (it calls
// t.Fatalf); condition runs on that goroutine too, so it may fail t itself.
func WaitFor(t testing.TB, timeout time.Duration, what string, condition func() bool) {
	t.Helper()
	if !Eventually(timeout, condition) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// Eventually calls condition every 5 ms until it returns true, and reports whether
// it did before timeout passed: WaitFor for a goroutine other than the test's, which
// must not call t.Fatalf and reports the failure its own way.
func Eventually(timeout time.Duration, condition func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !condition() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}
