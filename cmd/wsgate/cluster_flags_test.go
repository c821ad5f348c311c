package main

import (
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/redistest"
)

func TestClusterFlagMistakesAreStartupErrors(t *testing.T) {
	tests := map[string]struct {
		arguments []string
		variables map[string]string
		want      string
	}{
		"node id without Redis":   {[]string{"-node-id", "a"}, nil, "-node-id needs -redis-url"},
		"lease too short":         {[]string{"-redis-url", "redis://127.0.0.1:1", "-cluster-lease", "100ms"}, nil, "-cluster-lease 100ms: must be at least 500ms"},
		"lease from the variable": {nil, map[string]string{"WSGATE_CLUSTER_LEASE": "1ms"}, "WSGATE_CLUSTER_LEASE=1ms: must be at least 500ms"},
		"not a Redis URL":         {[]string{"-redis-url", "http://example.com"}, nil, `-redis-url "http://example.com": must be redis://`},
		"password not shown":      {[]string{"-redis-url", "redis://u:hunter2@h:port/0"}, nil, "-redis-url (value hidden: not a URL): must be redis://"},
		"password masked":         {nil, map[string]string{"WSGATE_REDIS_URL": "https://u:hunter2@h/0"}, `WSGATE_REDIS_URL="https://u:xxxxx@h/0"`},
		"database not a number": {[]string{"-redis-url", "redis://u:hunter2@127.0.0.1:1/abc"}, nil,
			`-redis-url "redis://u:xxxxx@127.0.0.1:1/abc": redis: invalid database number: "abc"`},
		"database of a Redis Cluster": {nil, map[string]string{"WSGATE_REDIS_URL": "redis+cluster://127.0.0.1:1/2"}, `WSGATE_REDIS_URL="redis+cluster://127.0.0.1:1/2": database 2: a Redis Cluster has database 0 only`},
		"empty seed":                  {[]string{"-redis-url", "redis+cluster://,127.0.0.1:1"}, nil, `-redis-url "redis+cluster://,127.0.0.1:1": empty seed address`},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			code, output := runStopped(t, test.arguments, test.variables)
			if code == 0 || !strings.Contains(output, test.want) {
				t.Fatalf("exit %d, output %q; want a failure mentioning %q", code, output, test.want)
			}
			if strings.Contains(output, "hunter2") {
				t.Fatalf("the output shows the password: %q", output)
			}
		})
	}
}

// TestARedisThatRefusesTheNodeStopsTheStart: a database number Redis does not have
// is a startup error (exit 1), not a node that retries forever.
func TestARedisThatRefusesTheNodeStopsTheStart(t *testing.T) {
	redis := redistest.Start(t)
	code, output := runStopped(t, []string{"-redis-url", "redis://" + redis.Addr() + "/99"}, nil)
	if code != 1 || !strings.Contains(output, "refused this node: DB index is out of range") {
		t.Fatalf("exit %d, output %q; want exit 1 with Redis's refusal", code, output)
	}
}

func TestClusterIsConfiguredFromTheEnvironment(t *testing.T) {
	redis := redistest.Start(t)
	code, output := runStopped(t, []string{"-node-id", "edge-1"}, map[string]string{"WSGATE_REDIS_URL": redis.URL()})
	if code != 0 || !strings.Contains(output, "cluster enabled through Redis") || !strings.Contains(output, "node_id=edge-1") {
		t.Fatalf("exit %d, output %q; want a clean run that joined the cluster as edge-1", code, output)
	}
	if strings.Contains(output, redis.Addr()) {
		t.Fatal("the Redis URL, which may hold a password, appears in the log")
	}
}
