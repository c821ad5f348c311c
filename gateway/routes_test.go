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

// apiRoute is one route of the HTTP API (api/*.go: routes.handle and
// routes.handleOpen) with a concrete path, the methods it serves and the Allow header
// its 405 answer carries; public routes are served on -addr too when the API has
// an address of its own.
type apiRoute struct {
	path    string
	methods []string
	allow   string
	public  bool
}

// apiRoutes lists every route of the API.
func apiRoutes() []apiRoute {
	get := func(path string) apiRoute { return apiRoute{path, []string{"GET", "HEAD"}, "GET, HEAD", false} }
	post := func(path string) apiRoute { return apiRoute{path, []string{"POST"}, "POST", false} }
	remove := func(path string) apiRoute { return apiRoute{path, []string{"DELETE"}, "DELETE", false} }
	public := func(route apiRoute) apiRoute { route.public = true; return route }
	connection := session.NewConnectionID().String()
	return []apiRoute{
		public(get("/api/v1/ws/stats")),
		public(get("/healthz")),
		public(get("/readyz")),
		get("/metrics"),
		get("/debug/pprof/"),
		get("/debug/pprof/heap"),
		get("/debug/pprof/profile"),
		get("/debug/pprof/trace"),
		get("/debug/pprof/symbol"),
		get("/debug/pprof/cmdline"),
		post("/api/v1/broadcast"),
		post("/api/v1/users/alice/send"),
		post("/api/v1/connections/" + connection + "/send"),
		remove("/api/v1/connections/" + connection),
		remove("/api/v1/users/alice/connections"),
		post("/api/v1/drain"),
		post("/api/v1/channels/news/publish"),
		post("/api/v1/publish"),
		post("/api/v1/users/alice/subscribe"),
		post("/api/v1/users/alice/unsubscribe"),
		post("/api/v1/connections/" + connection + "/subscribe"),
		post("/api/v1/connections/" + connection + "/unsubscribe"),
		get("/api/v1/channels"),
		get("/api/v1/channels/news"),
		get("/api/v1/channels/news/history"),
		get("/api/v1/channels/news/presence"),
		get("/api/v1/channels/news/presence/stats"),
		get("/api/v1/users/alice/presence"),
		post("/api/v1/users/presence"),
		get("/dashboard"),
		get("/dashboard/api/events"),
		get("/dashboard/api/search"),
	}
}

// listener is one address the API answers on, with the routes it serves.
type listener struct {
	name    string
	address string
	serves  func(apiRoute) bool
}

// apiListeners starts a node on one address and a node with the API on an address
// of its own, and returns the three listeners: the shared one and, of the second
// node, -addr (public routes only) and -api-addr (every route).
func apiListeners(t *testing.T) []listener {
	shared := startNode(t, gateway.Config{})
	split := startNode(t, gateway.Config{APIAddr: "127.0.0.1:0"})
	every := func(apiRoute) bool { return true }
	return []listener{
		{"shared -addr", shared.Addr().String(), every},
		{"-addr beside -api-addr", split.Addr().String(), func(route apiRoute) bool { return route.public }},
		{"-api-addr", split.APIAddr().String(), every},
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
	return rawRequestAt(t, n.Addr().String(), method, path)
}

// rawRequestAt sends method path to address and returns the answer without
// following a redirect.
func rawRequestAt(t *testing.T, address, method, path string) rawAnswer {
	t.Helper()
	request, err := http.NewRequest(method, "http://"+address+path, strings.NewReader(`{"message":{}}`))
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
	for _, at := range apiListeners(t) {
		for _, route := range apiRoutes() {
			if !at.serves(route) {
				continue
			}
			for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if strings.Contains(route.allow, method) {
					continue
				}
				what := method + " " + route.path + " on " + at.name
				answer := rawRequestAt(t, at.address, method, route.path)
				expectJSONError(t, what, answer, http.StatusMethodNotAllowed, "method_not_allowed")
				if got := answer.header.Get("Allow"); got != route.allow {
					t.Fatalf("%s: Allow %q, want %q", what, got, route.allow)
				}
			}
		}
	}
}

// TestWrongMethodOnTheWebSocketGets405: the WebSocket endpoint is a GET route too;
// the API's own listener does not serve it.
func TestWrongMethodOnTheWebSocketGets405(t *testing.T) {
	for _, at := range apiListeners(t) {
		for _, method := range []string{"HEAD", "POST", "PUT", "DELETE"} {
			what := method + " /api/v1/ws on " + at.name
			answer := rawRequestAt(t, at.address, method, "/api/v1/ws")
			if at.name == "-api-addr" {
				if method != "HEAD" {
					expectJSONError(t, what, answer, http.StatusNotFound, "not_found")
				}
				continue
			}
			if answer.status != http.StatusMethodNotAllowed || answer.header.Get("Allow") != "GET" {
				t.Fatalf("%s: %d, Allow %q; want 405 with Allow: GET", what, answer.status, answer.header.Get("Allow"))
			}
			if method != "HEAD" {
				expectJSONError(t, what, answer, http.StatusMethodNotAllowed, "method_not_allowed")
			}
		}
	}
}

func TestEmptyOrDotSegmentGetsJSON404(t *testing.T) {
	for _, at := range apiListeners(t) {
		for _, route := range apiRoutes() {
			if !at.serves(route) {
				continue
			}
			last := strings.LastIndex(route.path, "/")
			unclean := []string{
				route.path[:last] + "/" + route.path[last:], // an empty segment before the last one
				"/." + route.path,
				"/healthz/.." + route.path,
			}
			for _, path := range unclean {
				what := route.methods[0] + " " + path + " on " + at.name
				expectJSONError(t, what, rawRequestAt(t, at.address, route.methods[0], path), http.StatusNotFound, "not_found")
			}
		}
		for _, empty := range []struct{ method, path string }{
			{"POST", "/api/v1/users//send"},
			{"POST", "/api/v1/connections//send"},
			{"DELETE", "/api/v1/users//connections"},
			{"DELETE", "/api/v1/connections/"},
			{"DELETE", "/api/v1/connections//"},
			{"POST", "/api/v1/channels//publish"},
			{"GET", "/api/v1/channels//presence"},
		} {
			what := empty.method + " " + empty.path + " on " + at.name
			expectJSONError(t, what, rawRequestAt(t, at.address, empty.method, empty.path), http.StatusNotFound, "not_found")
		}
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
		{"POST", "/api/v1/ws/"},
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
