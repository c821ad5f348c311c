package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
)

// pushScript is the integration guide's example backend (docs/integration.md).
var pushScript = filepath.Join("..", "docs", "examples", "push.py")

// runPushScript runs push.py with arguments against n and returns its stdout, its
// stderr and whether it exited 0.
func runPushScript(t *testing.T, n *node, apiKey string, arguments ...string) (string, string, bool) {
	t.Helper()
	return runPushScriptAt(t, "http://"+n.Addr().String(), apiKey, arguments...)
}

// runPushScriptAt runs push.py with arguments against the wsgate at baseURL.
func runPushScriptAt(t *testing.T, baseURL, apiKey string, arguments ...string) (string, string, bool) {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	command := exec.CommandContext(ctx, python, append([]string{pushScript}, arguments...)...)
	command.Env = append(os.Environ(),
		"WSGATE_URL="+baseURL,
		"WSGATE_API_KEY="+apiKey,
		"WSGATE_JWT_SECRET="+testJWTSecret,
		"WSGATE_JWT_AUDIENCE=wsgate",
		"WSGATE_JWT_ISSUER=backend",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	var stdout, stderr bytes.Buffer
	command.Stdout, command.Stderr = &stdout, &stderr
	err = command.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("run %s: %v", pushScript, err)
	}
	return stdout.String(), stderr.String(), err == nil
}

// TestPythonExampleMintsATokenAndPushes runs the guide's script against a real node:
// a client connects with a token the script minted (HS256 by hand, with hmac), and
// receives the message the script pushed through the API.
func TestPythonExampleMintsATokenAndPushes(t *testing.T) {
	n := jwtNode(t)
	token, stderr, ok := runPushScript(t, n, testAPIKey, "token", "alice", "--ttl", "600")
	if !ok {
		t.Fatalf("push.py token failed: %s", stderr)
	}
	conn := n.dialToken(strings.TrimSpace(token))
	if got := welcome(t, conn)["user_id"]; got != "alice" {
		t.Fatalf("user_id %v, want alice from the Python-minted token", got)
	}
	bystander := n.dialToken(validToken(t, "bob"))
	welcome(t, bystander)

	pushed := `{"type":"notification","text":"Your order shipped","order":{"id":42,"items":["book","pen"]}}`
	answer, stderr, ok := runPushScript(t, n, testAPIKey, "send", "alice", pushed)
	if !ok {
		t.Fatalf("push.py send failed: %s", stderr)
	}
	if strings.TrimSpace(answer) != `{"queued": 1}` {
		t.Fatalf("push.py printed %q, want {\"queued\": 1}", answer)
	}
	var got, want any
	if err := json.Unmarshal(readRaw(t, conn, 3*time.Second), &got); err != nil {
		t.Fatalf("pushed message is not JSON: %v", err)
	}
	_ = json.Unmarshal([]byte(pushed), &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("client received %v, want %v", got, want)
	}
	expectNothingPending(t, bystander)

	if _, stderr, ok := runPushScript(t, n, "wrong-key", "send", "alice", pushed); ok || !strings.Contains(stderr, "401 unauthorized") {
		t.Fatalf("push.py with a wrong key: exit ok=%v, stderr %q, want a 401 error", ok, stderr)
	}
	answer, stderr, ok = runPushScript(t, n, testAPIKey, "kick", "alice", "--reason", "logged out")
	if !ok || strings.TrimSpace(answer) != `{"closed": 1}` {
		t.Fatalf("push.py kick: ok=%v, stdout %q, stderr %q", ok, answer, stderr)
	}
	if code, text := readClose(t, conn, 3*time.Second); code != 4403 || text != "logged out" {
		t.Fatalf("closed with %d %q, want 4403 \"logged out\"", code, text)
	}
}

// TestPythonExampleTurnsTransportErrorsIntoWsgateError: a body over the limit gets
// the API's 413 (answered from its Content-Length while the script still sends the
// body), and a refused connection ends in the script's WsgateError (exit 1, one
// line on stderr), not a Python traceback.
func TestPythonExampleTurnsTransportErrorsIntoWsgateError(t *testing.T) {
	// A limit below what one command-line argument may hold (128 KiB on Linux).
	const limit = 64 << 10
	n := startNode(t, gateway.Config{Engine: engine.Config{MaxBodySize: limit}, APIKey: testAPIKey,
		JWT: auth.Config{Secret: []byte(testJWTSecret), Audience: "wsgate", Issuer: "backend"}})
	message := func(size int) string { return `{"type":"padding","text":"` + strings.Repeat("x", size) + `"}` }
	cases := []struct {
		name, baseURL, message, want string
	}{
		{"over the limit", "http://" + n.Addr().String(), message(limit + 4096),
			"push.py: wsgate answered 413 body_too_large"},
		{"connection refused", "http://" + closedAddress(t), message(10), "push.py: no answer from wsgate: POST "},
	}
	for _, test := range cases {
		stdout, stderr, ok := runPushScriptAt(t, test.baseURL, testAPIKey, "broadcast", test.message)
		if ok || stdout != "" || !strings.HasPrefix(stderr, test.want) || strings.Contains(stderr, "Traceback") ||
			strings.Count(stderr, "\n") != 1 {
			t.Fatalf("%s: exit ok=%v, stdout %q, stderr %q; want exit 1 and one line starting %q",
				test.name, ok, stdout, stderr, test.want)
		}
	}
}

// closedAddress returns a loopback address where nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	_ = listener.Close()
	return address
}
