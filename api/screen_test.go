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

// screened returns what Screen answers for a request with a body of length bytes
// from remoteAddress with authorization: the status its handler writes, 0 when it
// lets the request through.
func screened(handler *api.API, method, path, remoteAddress, authorization string, length int64) (int, string) {
	request := httptest.NewRequest(method, path, http.NoBody)
	request.ContentLength = length
	request.RemoteAddr = remoteAddress
	if authorization != "" {
		request.Header.Set("Authorization", authorization)
	}
	answer := handler.Screen(request)
	if answer == nil {
		return 0, ""
	}
	recorder := httptest.NewRecorder()
	answer.ServeHTTP(recorder, request)
	return recorder.Code, recorder.Body.String()
}

func TestScreenAnswersWhatNeedsNoBody(t *testing.T) {
	hub, err := session.NewHub(session.Config{})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() { hub.Shutdown(time.Second) })
	keyed, err := api.New(api.Config{Hub: hub, APIKey: "key", MaxBodySize: 100})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	keyless := newAPI(t, "")
	const remote, loopback = "192.0.2.10:5000", "127.0.0.1:5000"
	tests := []struct {
		name          string
		handler       *api.API
		method, path  string
		remote, key   string
		length        int64
		status        int
		answerContent string
	}{
		{"admitted", keyed, "POST", "/api/v1/broadcast", remote, "Bearer key", 100, 0, ""},
		{"chunked admitted", keyed, "POST", "/api/v1/publish", remote, "Bearer key", -1, 0, ""},
		{"over the limit", keyed, "POST", "/api/v1/broadcast", remote, "Bearer key", 101, 413, `"body_too_large"`},
		{"wrong key", keyed, "POST", "/api/v1/broadcast", remote, "Bearer nope", 10, 401, `"unauthorized"`},
		{"key checked before the size", keyed, "POST", "/api/v1/broadcast", remote, "", 1 << 30, 401, `"unauthorized"`},
		{"no key, not loopback", keyless, "POST", "/api/v1/broadcast", remote, "", 10, 403, `"forbidden"`},
		{"no key, loopback", keyless, "POST", "/api/v1/broadcast", loopback, "", 10, 0, ""},
		{"unknown route", keyed, "POST", "/api/v1/nothing", remote, "", 10, 404, `"not_found"`},
		{"unclean path", keyed, "POST", "/api/v1/users//send", remote, "Bearer key", 10, 404, `"not_found"`},
		{"wrong method", keyed, "PUT", "/api/v1/broadcast", remote, "Bearer key", 10, 405, `"method_not_allowed"`},
		{"open route needs no key", keyed, "GET", "/healthz", remote, "", 10, 0, ""},
		{"public part: stats", keyed.Public(), "GET", "/api/v1/ws/stats", remote, "Bearer key", 10, 0, ""},
		{"public part: no publish", keyed.Public(), "POST", "/api/v1/broadcast", remote, "Bearer key", 10, 404, `"not_found"`},
	}
	for _, test := range tests {
		status, body := screened(test.handler, test.method, test.path, test.remote, test.key, test.length)
		if status != test.status || test.answerContent != "" && !strings.Contains(body, test.answerContent) {
			t.Errorf("%s: screen answered %d %s, want %d with %s", test.name, status, body, test.status, test.answerContent)
		}
	}
}
