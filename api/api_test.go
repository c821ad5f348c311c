package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wsgate/wsgate/internal/buildinfo"
)

func TestHealthAnswersOKWithTheVersion(t *testing.T) {
	handler, _ := apiWithSessions(t, 0)
	request := httptest.NewRequest("GET", "/healthz", nil)
	request.RemoteAddr = "192.0.2.10:5000"
	got := httptest.NewRecorder()
	handler.ServeHTTP(got, request)
	var body map[string]string
	if err := json.Unmarshal(got.Body.Bytes(), &body); err != nil || got.Code != http.StatusOK {
		t.Fatalf("GET /healthz: status %d, body %q", got.Code, got.Body)
	}
	if body["status"] != "ok" || body["version"] != buildinfo.Get().Version || len(body) != 2 {
		t.Fatalf("GET /healthz answered %v; want status ok and version %q", body, buildinfo.Get().Version)
	}
}
