package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/buildinfo"
)

func TestVersionPrintsTheBuildAndExits(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// A bad setting in the environment does not stop -version.
	code := run(context.Background(), []string{"-version"}, environment(map[string]string{"WSGATE_PING_TIMEOUT": "-1s"}),
		&stdout, &stderr)
	if code != 0 || stdout.String() != buildinfo.Get().String()+"\n" || stderr.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and %q", code, stdout.String(), stderr.String(), buildinfo.Get())
	}
}

// TestNoVariableTurnsTheServerIntoACommand: WSGATE_VERSION does not make a server
// print its version and exit.
func TestNoVariableTurnsTheServerIntoACommand(t *testing.T) {
	code, output := runStopped(t, nil, map[string]string{"WSGATE_VERSION": "true"})
	if code != 0 || !strings.Contains(output, "wsgate listening") {
		t.Fatalf("exit %d, output %q; want a server that started", code, output)
	}
}
