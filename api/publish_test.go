package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/session"
)

func TestBodyLimitIsExact(t *testing.T) {
	hub, err := session.NewHub(session.Config{})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	defer hub.Shutdown(time.Second)
	const limit = 100
	handler, err := api.New(api.Config{Hub: hub, MaxBodySize: limit})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	body := func(size int) string {
		prefix, suffix := `{"message":{"x":"`, `"}}`
		return prefix + strings.Repeat("x", size-len(prefix)-len(suffix)) + suffix
	}
	if got := serve(handler, "POST", "/api/v1/broadcast", "127.0.0.1:1", "", body(limit)); got.Code != http.StatusOK {
		t.Fatalf("body of exactly %d bytes: status %d, body %s", limit, got.Code, got.Body)
	}
	got := serve(handler, "POST", "/api/v1/broadcast", "127.0.0.1:1", "", body(limit+1))
	if got.Code != http.StatusRequestEntityTooLarge || !strings.Contains(got.Body.String(), `"error":"body_too_large"`) {
		t.Fatalf("body of %d bytes: status %d, body %s, want 413 body_too_large", limit+1, got.Code, got.Body)
	}
	if _, err := api.New(api.Config{Hub: hub, MaxBodySize: -1}); err == nil {
		t.Fatal("api.New accepted a negative MaxBodySize")
	}
}
