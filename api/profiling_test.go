package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/session"
)

func TestProfilingCanBeTurnedOff(t *testing.T) {
	hub, err := session.NewHub(session.Config{})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() { hub.Shutdown(time.Second) })
	for _, disabled := range []bool{false, true} {
		handler, err := api.New(api.Config{Hub: hub, DisableProfiling: disabled})
		if err != nil {
			t.Fatalf("api.New: %v", err)
		}
		want := http.StatusOK
		if disabled {
			want = http.StatusNotFound
		}
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/symbol"} {
			if got := serve(handler, "GET", path, "127.0.0.1:5000", "", ""); got.Code != want {
				t.Errorf("DisableProfiling %v: GET %s from loopback: status %d, want %d", disabled, path, got.Code, want)
			}
		}
		if got := serve(handler, "GET", "/metrics", "127.0.0.1:5000", "", ""); got.Code != http.StatusOK {
			t.Errorf("DisableProfiling %v: /metrics status %d", disabled, got.Code)
		}
	}
}
