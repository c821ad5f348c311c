package engine

import (
	"bytes"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: every listener,
// accept loop and nbio engine a test starts is stopped by it. The goroutines alive
// before the tests (nbio's package-level default engine) are not counted.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// parkedIn reports whether a goroutine is blocked on a channel receive inside
// function (as runtime.Stack names it, e.g. "(*gatedListener).Accept"). It lets a
// test prove that a call is parked instead of sleeping and hoping it is.
func parkedIn(function string) bool {
	buffer := make([]byte, 1<<20)
	buffer = buffer[:runtime.Stack(buffer, true)]
	for _, goroutine := range bytes.Split(buffer, []byte("\n\n")) {
		header, _, _ := bytes.Cut(goroutine, []byte("\n"))
		if bytes.Contains(header, []byte("[chan receive")) && bytes.Contains(goroutine, []byte(function+"(")) {
			return true
		}
	}
	return false
}
