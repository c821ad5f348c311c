package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// OriginConfig configures an OriginPolicy.
type OriginConfig struct {
	// Allowed lists the browser origins accepted besides same-origin requests, each
	// a scheme and host with an optional port and no path, e.g.
	// "https://app.example.com" or "http://localhost:3000"; "*" accepts every
	// origin. Default empty: requests without an Origin header (non-browser
	// clients) and same-origin requests only.
	Allowed []string
}

// OriginPolicy decides whether a WebSocket upgrade's Origin header is allowed. It
// is immutable after NewOriginPolicy and safe for concurrent use; Allow costs one
// URL parse and one map lookup.
type OriginPolicy struct {
	anyOrigin bool
	allowed   map[string]struct{}
}

// NewOriginPolicy returns the policy for config, or an error naming the first entry
// of Allowed that is not "*" or an http(s) origin.
func NewOriginPolicy(config OriginConfig) (*OriginPolicy, error) {
	policy := &OriginPolicy{allowed: make(map[string]struct{}, len(config.Allowed))}
	for _, entry := range config.Allowed {
		if strings.TrimSpace(entry) == "*" {
			policy.anyOrigin = true
			continue
		}
		origin, ok := normalizeOrigin(entry)
		if !ok {
			return nil, fmt.Errorf("auth: allowed origin %q is not \"*\" or scheme://host[:port], e.g. https://app.example.com", entry)
		}
		policy.allowed[origin] = struct{}{}
	}
	return policy, nil
}

// Allow reports whether request may be upgraded: it has no Origin header (a
// non-browser client), its Origin names the host the request was sent to
// (same-origin, compared case-insensitively, as browsers do), or its Origin is in
// the allowed list (or the list holds "*").
func (p *OriginPolicy) Allow(request *http.Request) bool {
	values := request.Header.Values("Origin")
	if len(values) == 0 || p.anyOrigin {
		return true
	}
	parsed, err := url.Parse(values[0])
	if err != nil {
		return false
	}
	if parsed.Host != "" && strings.EqualFold(parsed.Host, request.Host) {
		return true
	}
	origin, ok := normalizeOrigin(values[0])
	if !ok {
		return false
	}
	_, allowed := p.allowed[origin]
	return allowed
}

// normalizeOrigin returns text as "scheme://host[:port]" in lower case without a
// default port (browsers omit it), or false when text is not an http(s) origin.
func normalizeOrigin(text string) (string, bool) {
	parsed, err := url.Parse(strings.TrimSpace(text))
	if err != nil || parsed.Host == "" || parsed.User != nil || parsed.RawQuery != "" || parsed.Fragment != "" ||
		(parsed.Path != "" && parsed.Path != "/") {
		return "", false
	}
	scheme := strings.ToLower(parsed.Scheme)
	host := strings.ToLower(parsed.Hostname())
	port := parsed.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return "", false
	case scheme == "http" && port == "80", scheme == "https" && port == "443":
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}
