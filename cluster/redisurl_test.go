package cluster

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/redistest"
)

// newQuiet returns New's result for url with logs discarded, closing a node when
// the test ends.
func newQuiet(t *testing.T, url string) (*Node, error) {
	t.Helper()
	node, err := New(Config{RedisURL: url, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if node != nil {
		t.Cleanup(node.Close)
	}
	return node, err
}

// TestARedisThatRefusesTheConfigurationIsAStartupError: a password, user or
// database Redis will never accept fails New with Redis's reason and the URL
// without its password, instead of a node retrying forever.
func TestARedisThatRefusesTheConfigurationIsAStartupError(t *testing.T) {
	const password = "correct-horse-battery"
	redis := redistest.Start(t, "--requirepass", password)
	tests := map[string]struct {
		url  string
		want string
	}{
		"database out of range": {"redis://:" + password + "@" + redis.Addr() + "/99", "DB index is out of range"},
		"wrong password":        {"redis://:wrong-staple@" + redis.Addr() + "/0", "WRONGPASS"},
		"no password":           {"redis://" + redis.Addr() + "/0", "NOAUTH"},
		"unknown user":          {"redis://mallory:" + password + "@" + redis.Addr() + "/0", "WRONGPASS"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			node, err := newQuiet(t, test.url)
			if err == nil || node != nil {
				t.Fatalf("New succeeded; want the refusal %q", test.want)
			}
			message := err.Error()
			if !strings.Contains(message, test.want) || !strings.Contains(message, "refused this node") ||
				!strings.Contains(message, redis.Addr()) {
				t.Fatalf("error %q; want Redis's reason %q and the address", message, test.want)
			}
			if strings.Contains(message, password) || strings.Contains(message, "wrong-staple") {
				t.Fatalf("the error shows the password: %q", message)
			}
		})
	}
	if _, err := newQuiet(t, "redis://:"+password+"@"+redis.Addr()+"/15"); err != nil {
		t.Fatalf("New with the right password and database 15: %v", err)
	}
}

func TestAURLThatIsNotRedisIsRefusedWithoutItsPassword(t *testing.T) {
	tests := map[string]struct {
		url  string
		want string
	}{
		"another scheme":        {"http://user:hunter2@example.com", "invalid URL scheme"},
		"bad escape":            {"redis://user:hunter2%zz@127.0.0.1:6379/0", "invalid URL escape"},
		"port is not a number":  {"redis://user:hunter2@127.0.0.1:port/0", "invalid port"},
		"database not a number": {"redis://user:hunter2@127.0.0.1:6379/first", "first"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := newQuiet(t, test.url)
			if err == nil || !strings.Contains(err.Error(), test.want) || !strings.Contains(err.Error(), urlForm) {
				t.Fatalf("New: %v; want an error mentioning %q and the URL's form", err, test.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the password: %q", err)
			}
		})
	}
}
