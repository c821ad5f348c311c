package dashboard

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a sampler or a viewer's goroutine outlives Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
