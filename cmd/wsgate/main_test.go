package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests (every run shuts
// its node down) and removes the binary the process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDirectory != "" {
		_ = os.RemoveAll(binaryDirectory)
	}
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce       sync.Once
	binaryDirectory string
	binaryPath      string
	buildError      error
)

// builtBinary returns the path of wsgate built from this package with a plain go
// build, built once per test process.
func builtBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binaryDirectory, buildError = os.MkdirTemp("", "wsgate-test-")
		if buildError != nil {
			return
		}
		binaryPath = filepath.Join(binaryDirectory, "wsgate")
		if output, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput(); err != nil {
			buildError = fmt.Errorf("%v: %s", err, output)
		}
	})
	if buildError != nil {
		t.Fatalf("build wsgate: %v", buildError)
	}
	return binaryPath
}
