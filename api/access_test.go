package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/session"
)

// newAPI returns an API over a fresh hub, shut down when the test ends.
func newAPI(t *testing.T, apiKey string) *api.API {
	t.Helper()
	hub, err := session.NewHub(session.Config{})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() { hub.Shutdown(time.Second) })
	handler, err := api.New(api.Config{Hub: hub, APIKey: apiKey})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return handler
}

// serve runs one request from remoteAddress through handler, in memory: no packet
// leaves the process, so any peer address can be tried.
func serve(handler http.Handler, method, path, remoteAddress, authorization, body string) *httptest.ResponseRecorder {
	request := httptest.NewRequest(method, path, strings.NewReader(body))
	request.RemoteAddr = remoteAddress
	if authorization != "" {
		request.Header.Set("Authorization", authorization)
	}
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)
	return recorder
}

var protectedRequests = []struct{ method, path, body string }{
	{"GET", "/api/v1/ws/stats", ""},
	{"GET", "/metrics", ""},
	{"GET", "/debug/pprof/heap", ""},
	{"POST", "/api/v1/broadcast", `{"message":{}}`},
	{"POST", "/api/v1/users/alice/send", `{"message":{}}`},
	{"DELETE", "/api/v1/users/alice/connections", ""},
}

func TestWithoutKeyOnlyLoopbackIsServed(t *testing.T) {
	handler := newAPI(t, "")
	for _, request := range protectedRequests {
		for _, peer := range []string{"127.0.0.1:5000", "127.8.9.10:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"} {
			if got := serve(handler, request.method, request.path, peer, "", request.body); got.Code != http.StatusOK {
				t.Errorf("%s %s from loopback %s: status %d, body %s", request.method, request.path, peer, got.Code, got.Body)
			}
		}
		for _, peer := range []string{"192.0.2.10:5000", "[2001:db8::1]:5000", "10.0.0.1:80", "[::ffff:192.0.2.1]:5000", "garbage"} {
			got := serve(handler, request.method, request.path, peer, "", request.body)
			if got.Code != http.StatusForbidden || !strings.Contains(got.Body.String(), `"error":"forbidden"`) {
				t.Errorf("%s %s from %s: status %d, body %s, want 403 forbidden", request.method, request.path, peer, got.Code, got.Body)
			}
		}
	}
	if got := serve(handler, "GET", "/healthz", "192.0.2.10:5000", "", ""); got.Code != http.StatusOK {
		t.Errorf("healthz from a remote peer: status %d, want 200", got.Code)
	}
}

func TestWithKeyEveryPeerNeedsTheKey(t *testing.T) {
	const key = "a-key-for-the-api"
	handler := newAPI(t, key)
	for _, request := range protectedRequests {
		for _, peer := range []string{"127.0.0.1:5000", "192.0.2.10:5000"} {
			for _, authorization := range []string{"", "Bearer", "Bearer wrong", "Basic " + key, "Bearer " + key + "x"} {
				got := serve(handler, request.method, request.path, peer, authorization, request.body)
				if got.Code != http.StatusUnauthorized || got.Header().Get("WWW-Authenticate") == "" ||
					strings.Contains(got.Body.String(), key) {
					t.Errorf("%s %s from %s with %q: status %d, body %s, want 401 without the key",
						request.method, request.path, peer, authorization, got.Code, got.Body)
				}
			}
			for _, authorization := range []string{"Bearer " + key, "bearer  " + key} {
				if got := serve(handler, request.method, request.path, peer, authorization, request.body); got.Code != http.StatusOK {
					t.Errorf("%s %s from %s with the key: status %d, body %s", request.method, request.path, peer, got.Code, got.Body)
				}
			}
		}
	}
}
