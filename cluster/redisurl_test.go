package cluster

import (
	"io"
	"log/slog"
	"slices"
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
			if err := CheckURL(test.url); err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("CheckURL: %v; want a refusal without the password", err)
			}
		})
	}
}

func TestAClusterURLNamesEverySeed(t *testing.T) {
	options, clustered, err := clientOptions("rediss+cluster://user:secret@h1:7000,h2:7001?addr=[::1]:7002&dial_timeout=2s")
	if err != nil || !clustered {
		t.Fatalf("clientOptions: %v, clustered %v", err, clustered)
	}
	slices.Sort(options.InitAddress)
	if want := []string{"[::1]:7002", "h1:7000", "h2:7001"}; !slices.Equal(options.InitAddress, want) {
		t.Fatalf("seeds %v, want %v", options.InitAddress, want)
	}
	if options.Username != "user" || options.Password != "secret" || options.TLSConfig == nil || options.TLSConfig.ServerName != "" {
		t.Fatalf("credentials or TLS lost: user %q, TLS %+v", options.Username, options.TLSConfig)
	}
	for url, want := range map[string]string{
		"redis+cluster://h1:7000,,h2:7001":  "empty seed",
		"redis+cluster://h1:7000,h2:7001/3": "database 0 only",
	} {
		if _, err := newQuiet(t, url); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), urlForm) {
			t.Fatalf("New(%q): %v; want an error mentioning %q and the URL's form", url, err, want)
		}
	}
}

func TestAClusterIsFoundFromAClusterURLOrAPlainURLToOneOfItsNodes(t *testing.T) {
	redis := redistest.StartCluster(t, 3)
	for _, url := range []string{redis.URL(), redis.Masters[1].URL()} {
		node, err := newQuiet(t, url)
		if err != nil || !node.sharded {
			t.Fatalf("New(%q): %v; want a node on the Redis Cluster", url, err)
		}
	}
	single := redistest.Start(t)
	if _, err := newQuiet(t, "redis+cluster://"+single.Addr()); err == nil || !strings.Contains(err.Error(), "not in cluster mode") {
		t.Fatalf("New with a cluster URL to a single Redis: %v; want a refusal", err)
	}
	if node, err := newQuiet(t, single.URL()); err != nil || node.sharded {
		t.Fatalf("New with a single Redis: %v, sharded %v", err, node != nil && node.sharded)
	}
	redis.Masters[0].Kill()
	redis.Masters[1].Kill()
	redis.Masters[2].Kill()
	if _, err := newQuiet(t, redis.URL()); err == nil || !strings.Contains(err.Error(), "no seed of the Redis Cluster answered") {
		t.Fatalf("New with every seed down: %v; want a startup error", err)
	}
}
