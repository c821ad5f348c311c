package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// apiRoute is one route of the HTTP API (api/api.go, api/publish.go,
// api/profiling.go) with a concrete path, the methods it serves and the Allow
// header its 405 answer carries.
type apiRoute struct {
	path    string
	methods []string
	allow   string
}

// apiRoutes lists every route of the API.
func apiRoutes() []apiRoute {
	get := func(path string) apiRoute { return apiRoute{path, []string{"GET", "HEAD"}, "GET, HEAD"} }
	connection := session.NewConnectionID().String()
	return []apiRoute{
		get("/api/v1/ws/stats"),
		get("/metrics"),
		get("/healthz"),
		get("/readyz"),
		get("/debug/pprof/"),
		get("/debug/pprof/heap"),
		get("/debug/pprof/profile"),
		get("/debug/pprof/trace"),
		get("/debug/pprof/symbol"),
		get("/debug/pprof/cmdline"),
		{"/api/v1/broadcast", []string{"POST"}, "POST"},
		{"/api/v1/users/alice/send", []string{"POST"}, "POST"},
		{"/api/v1/connections/" + connection + "/send", []string{"POST"}, "POST"},
		{"/api/v1/connections/" + connection, []string{"DELETE"}, "DELETE"},
		{"/api/v1/users/alice/connections", []string{"DELETE"}, "DELETE"},
		{"/api/v1/drain", []string{"POST"}, "POST"},
	}
}

// rawAnswer is an API answer as it came: redirects are not followed.
type rawAnswer struct {
	status int
	header http.Header
	body   map[string]any
	text   string
}

// rawRequest sends method path to n and returns the answer without following a
// redirect.
func rawRequest(t *testing.T, n *node, method, path string) rawAnswer {
	t.Helper()
	request, err := http.NewRequest(method, n.httpURL(path), strings.NewReader(`{"message":{}}`))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	response, err := client.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	answer := rawAnswer{status: response.StatusCode, header: response.Header, text: string(data)}
	_ = json.Unmarshal(data, &answer.body)
	return answer
}

// expectJSONError fails unless answer is status with the API's JSON error shape
// and the error code.
func expectJSONError(t *testing.T, what string, answer rawAnswer, status int, code string) {
	t.Helper()
	if answer.status != status || answer.header.Get("Content-Type") != "application/json" ||
		answer.body["error"] != code || answer.body["message"] == "" {
		t.Fatalf("%s: status %d, Content-Type %q, body %q; want %d with a JSON error %q and a message",
			what, answer.status, answer.header.Get("Content-Type"), answer.text, status, code)
	}
}

func TestWrongMethodOnEveryRouteGets405WithAllow(t *testing.T) {
	n := startNode(t, gateway.Config{})
	for _, route := range apiRoutes() {
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if strings.Contains(route.allow, method) {
				continue
			}
			answer := rawRequest(t, n, method, route.path)
			expectJSONError(t, method+" "+route.path, answer, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := answer.header.Get("Allow"); got != route.allow {
				t.Fatalf("%s %s: Allow %q, want %q", method, route.path, got, route.allow)
			}
		}
	}
}

func TestEmptyOrDotSegmentGetsJSON404(t *testing.T) {
	n := startNode(t, gateway.Config{})
	for _, route := range apiRoutes() {
		last := strings.LastIndex(route.path, "/")
		unclean := []string{
			route.path[:last] + "/" + route.path[last:], // an empty segment before the last one
			"/." + route.path,
			"/healthz/.." + route.path,
		}
		for _, path := range unclean {
			expectJSONError(t, route.methods[0]+" "+path, rawRequest(t, n, route.methods[0], path), http.StatusNotFound, "not_found")
		}
	}
	for _, empty := range []struct{ method, path string }{
		{"POST", "/api/v1/users//send"},
		{"POST", "/api/v1/connections//send"},
		{"DELETE", "/api/v1/users//connections"},
		{"DELETE", "/api/v1/connections/"},
		{"DELETE", "/api/v1/connections//"},
	} {
		expectJSONError(t, empty.method+" "+empty.path, rawRequest(t, n, empty.method, empty.path), http.StatusNotFound, "not_found")
	}
}

func TestUnknownRouteGetsJSON404(t *testing.T) {
	n := startNode(t, gateway.Config{})
	for _, unknown := range []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/api/v1/nothing"},
		{"POST", "/api/v1/users/alice"},
		{"GET", "/api/v1/ws/stats/"},
		{"PUT", "/healthz/more"},
		{"POST", "/api/v1/ws"},
	} {
		expectJSONError(t, unknown.method+" "+unknown.path, rawRequest(t, n, unknown.method, unknown.path), http.StatusNotFound, "not_found")
	}
}

// TestUserIDWithEscapedSlashIsOneSegment: a user id may contain "/", sent escaped as
// %2F; that is one segment, not an unclean path.
func TestUserIDWithEscapedSlashIsOneSegment(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true})
	conn := n.dial("team/alice")
	welcome(t, conn)
	answer := rawRequest(t, n, "POST", "/api/v1/users/team%2Falice/send")
	if answer.status != http.StatusOK || answer.body["queued"] != float64(1) {
		t.Fatalf("send to user \"team/alice\": status %d, body %q, want 200 {\"queued\":1}", answer.status, answer.text)
	}
}
