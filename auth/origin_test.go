package auth

import (
	"net/http/httptest"
	"testing"
)

func TestOriginPolicy(t *testing.T) {
	policy, err := NewOriginPolicy(OriginConfig{Allowed: []string{"https://App.Example.com:443/", " http://localhost:3000 ", "http://[::1]:8000"}})
	if err != nil {
		t.Fatalf("NewOriginPolicy: %v", err)
	}
	tests := map[string]bool{
		"":                             true, // no Origin header: a non-browser client
		"http://gateway.example:8080":  true, // same origin as the request's Host
		"https://GATEWAY.example:8080": true,
		"https://app.example.com":      true,
		"https://app.example.com:443":  true,
		"http://localhost:3000":        true,
		"http://[::1]:8000":            true,
		"http://app.example.com":       false,
		"https://app.example.com:8443": false,
		"https://evil.app.example.com": false,
		"https://app.example.com.evil": false,
		"http://localhost:3001":        false,
		"null":                         false,
		"http://gateway.example:8081":  false,
		"not a url at all %%":          false,
		"https://app.example.com/path": false,
		"javascript://app.example.com": false,
	}
	for origin, want := range tests {
		request := httptest.NewRequest("GET", "http://gateway.example:8080/api/v1/ws", nil)
		if origin != "" {
			request.Header.Set("Origin", origin)
		}
		if got := policy.Allow(request); got != want {
			t.Errorf("origin %q: Allow = %v, want %v", origin, got, want)
		}
	}
}

func TestOriginPolicyDefaultAndWildcard(t *testing.T) {
	strict, err := NewOriginPolicy(OriginConfig{})
	if err != nil {
		t.Fatalf("NewOriginPolicy: %v", err)
	}
	open, err := NewOriginPolicy(OriginConfig{Allowed: []string{"*"}})
	if err != nil {
		t.Fatalf("NewOriginPolicy: %v", err)
	}
	request := httptest.NewRequest("GET", "http://gateway.example/api/v1/ws", nil)
	request.Header.Set("Origin", "https://elsewhere.example")
	if strict.Allow(request) {
		t.Error("the default policy accepted a cross-origin request")
	}
	if !open.Allow(request) {
		t.Error("the wildcard policy refused a cross-origin request")
	}
}

func TestOriginPolicyRefusesMalformedEntries(t *testing.T) {
	for _, entry := range []string{"app.example.com", "https://app.example.com/path", "ftp://files.example", "null",
		"https://user@app.example.com", "https://app.example.com?x=1", ""} {
		if _, err := NewOriginPolicy(OriginConfig{Allowed: []string{entry}}); err == nil {
			t.Errorf("NewOriginPolicy accepted %q", entry)
		}
	}
}
