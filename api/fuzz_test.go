package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// The fuzz targets send arbitrary request bodies (and path values and query
// strings) to the endpoints that read a body. Whatever the input, the API must
// answer a JSON object with a 2xx or 4xx status, a 4xx with "error" and "message",
// and never panic. Their seed corpora are in testdata/fuzz; `go test` runs them as
// tests, `go test -fuzz FuzzPublishBody` explores.

// fuzzAPI returns an API over a hub with two in-memory connections of user
// "alice", both subscribed to "news", and the first connection's id.
func fuzzAPI(f *testing.F) (*API, string) {
	f.Helper()
	hub, err := session.NewHub(session.Config{PingInterval: -1})
	if err != nil {
		f.Fatalf("NewHub: %v", err)
	}
	f.Cleanup(func() { hub.Shutdown(0) })
	transport := newTransport(f, hub)
	var first string
	for range 2 {
		connection := transport.Open(&testsupport.Conn{Discard: true}, session.Identity{UserID: "alice"})
		if !connection.IsOpen() {
			f.Fatalf("Open: refused with %s", connection.Reason())
		}
		if first == "" {
			first = connection.ID().String()
		}
	}
	handler, err := New(Config{Hub: hub})
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	if answer := fuzzRequest(handler, "POST", "/api/v1/users/alice/subscribe", []byte(`{"channel":"news"}`)); answer.Code != http.StatusOK {
		f.Fatalf("subscribe: %d %s", answer.Code, answer.Body)
	}
	return handler, first
}

// fuzzRequest serves one request from a loopback client (the keyless access rule
// lets it through) in memory.
func fuzzRequest(handler http.Handler, method, target string, body []byte) *httptest.ResponseRecorder {
	request := httptest.NewRequest(method, target, strings.NewReader(string(body)))
	request.RemoteAddr = "127.0.0.1:4000"
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)
	return recorder
}

// checkFuzzAnswer fails unless answer is a JSON object with a 2xx or 4xx status, and
// a 4xx names its error.
func checkFuzzAnswer(t *testing.T, what string, answer *httptest.ResponseRecorder) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(answer.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: answer %d %q is not a JSON object: %v", what, answer.Code, answer.Body, err)
	}
	switch {
	case answer.Code >= 200 && answer.Code < 300:
	case answer.Code >= 400 && answer.Code < 500:
		if code, _ := body["error"].(string); code == "" || body["message"] == "" {
			t.Fatalf("%s: %d answer %v has no error and message", what, answer.Code, body)
		}
	default:
		t.Fatalf("%s: status %d (%s), want 2xx or 4xx", what, answer.Code, answer.Body)
	}
	if answer.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%s: content type %q", what, answer.Header().Get("Content-Type"))
	}
}

// fuzzCheck sends method target with body to handler and checks the answer.
func fuzzCheck(t *testing.T, handler http.Handler, method, target string, body []byte) {
	t.Helper()
	checkFuzzAnswer(t, method+" "+target, fuzzRequest(handler, method, target, body))
}

func FuzzPublishBody(f *testing.F) {
	f.Add("news", []byte(`{"data":{"text":"hi"}}`))
	f.Add("chat:room/1", []byte(`{"data":"x"}`))
	f.Add("", []byte(`{"data":1}`))
	f.Add("news", []byte(`{"data":`))
	handler, _ := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, channel string, body []byte) {
		fuzzCheck(t, handler, "POST", "/api/v1/channels/"+url.PathEscape(channel)+"/publish", body)
	})
}

func FuzzBatchPublishBody(f *testing.F) {
	f.Add([]byte(`{"publications":[{"channel":"news","data":1},{"channel":"bad name","data":2}]}`))
	f.Add([]byte(`{"publications":[]}`))
	f.Add([]byte(`{"publications":null}`))
	f.Add([]byte(`{"publications":[{"channel":"news"}]}`))
	handler, _ := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCheck(t, handler, "POST", "/api/v1/publish", body)
	})
}

// FuzzSendBody covers the three send endpoints: to a user, to a connection (the
// id is fuzzed too, the first seeds name an open one) and to everyone.
func FuzzSendBody(f *testing.F) {
	handler, connectionID := fuzzAPI(f)
	f.Add(uint8(0), "alice", []byte(`{"message":{"type":"notice"}}`))
	f.Add(uint8(1), connectionID, []byte(`{"message":{"type":"notice"}}`))
	f.Add(uint8(2), "", []byte(`{"message":{},"exclude":["`+connectionID+`"]}`))
	f.Add(uint8(2), "", []byte(`{"message":[1]}`))
	f.Fuzz(func(t *testing.T, endpoint uint8, target string, body []byte) {
		switch endpoint % 3 {
		case 0:
			fuzzCheck(t, handler, "POST", "/api/v1/users/"+url.PathEscape(target)+"/send", body)
		case 1:
			fuzzCheck(t, handler, "POST", "/api/v1/connections/"+url.PathEscape(target)+"/send", body)
		default:
			fuzzCheck(t, handler, "POST", "/api/v1/broadcast", body)
		}
	})
}

// FuzzKickBody covers the two disconnect endpoints with a body and a ?reason=.
func FuzzKickBody(f *testing.F) {
	handler, connectionID := fuzzAPI(f)
	f.Add(false, "bob", "", []byte(`{"reason":"logged out"}`))
	f.Add(true, connectionID, "bye", []byte(``))
	f.Add(false, "bob", "", []byte(`{"reason":"`+strings.Repeat("x", 200)+`"}`))
	f.Add(true, "not-an-id", "", []byte(`[]`))
	f.Fuzz(func(t *testing.T, oneConnection bool, target, reason string, body []byte) {
		query := ""
		if reason != "" {
			query = "?reason=" + url.QueryEscape(reason)
		}
		if oneConnection {
			fuzzCheck(t, handler, "DELETE", "/api/v1/connections/"+url.PathEscape(target)+query, body)
			return
		}
		// Kicking alice would leave the other targets nothing to find.
		if target == "alice" {
			target = "alice2"
		}
		fuzzCheck(t, handler, "DELETE", "/api/v1/users/"+url.PathEscape(target)+"/connections"+query, body)
	})
}

// FuzzSubscriptionBody covers the server-side subscribe and unsubscribe of a user
// and of a connection.
func FuzzSubscriptionBody(f *testing.F) {
	handler, connectionID := fuzzAPI(f)
	f.Add(uint8(0), "alice", []byte(`{"channel":"sports"}`))
	f.Add(uint8(1), "alice", []byte(`{"channel":"news","reason":"moderated"}`))
	f.Add(uint8(2), connectionID, []byte(`{"channel":"news"}`))
	f.Add(uint8(3), connectionID, []byte(`{"channel":""}`))
	f.Fuzz(func(t *testing.T, endpoint uint8, target string, body []byte) {
		kind, action := "users", "subscribe"
		if endpoint&2 != 0 {
			kind = "connections"
		}
		if endpoint&1 != 0 {
			action = "unsubscribe"
		}
		fuzzCheck(t, handler, "POST", "/api/v1/"+kind+"/"+url.PathEscape(target)+"/"+action, body)
	})
}
