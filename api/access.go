package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"

	"github.com/wsgate/wsgate/auth"
)

// access guards the endpoints a backend uses. With an API key, a request must carry
// "Authorization: Bearer <key>"; without one, only loopback clients are served, so a
// node that nobody configured is not open to the network. It is immutable and safe
// for concurrent use.
type access struct {
	// keyDigest is the SHA-256 of the API key, nil when none is set. Comparing
	// digests in constant time hides the key's length as well as its content.
	keyDigest *[sha256.Size]byte
}

func newAccess(apiKey string) access {
	if apiKey == "" {
		return access{}
	}
	digest := sha256.Sum256([]byte(apiKey))
	return access{keyDigest: &digest}
}

// protect wraps handler: a request the rule refuses gets the refusal's answer (see
// refusal) instead.
func (a access) protect(handler http.HandlerFunc) http.HandlerFunc {
	return func(writer http.ResponseWriter, request *http.Request) {
		if refused := a.refusal(request); refused != nil {
			refused(writer, request)
			return
		}
		handler(writer, request)
	}
}

// refusal returns nil when the rule lets request through, else what answers it: 401
// without the right key, or, when no key is configured, 403 for a non-loopback
// address, each with the API's JSON error body. The key never appears in an answer
// or a log.
func (a access) refusal(request *http.Request) http.HandlerFunc {
	if a.keyDigest == nil {
		if isLoopback(request.RemoteAddr) {
			return nil
		}
		return refuseWithoutKey
	}
	given := sha256.Sum256([]byte(auth.BearerToken(request.Header.Get("Authorization"))))
	if subtle.ConstantTimeCompare(given[:], a.keyDigest[:]) == 1 {
		return nil
	}
	return refuseUnauthorized
}

func refuseWithoutKey(writer http.ResponseWriter, _ *http.Request) {
	writeError(writer, http.StatusForbidden, "forbidden",
		"no API key is configured, so this endpoint answers loopback clients only")
}

func refuseUnauthorized(writer http.ResponseWriter, _ *http.Request) {
	writer.Header().Set("WWW-Authenticate", `Bearer realm="wsgate"`)
	writeError(writer, http.StatusUnauthorized, "unauthorized",
		"a valid API key is required as \"Authorization: Bearer <key>\"")
}

// isLoopback reports whether remoteAddress ("host:port") is a loopback address
// (127.0.0.0/8 or ::1, also IPv4-mapped).
func isLoopback(remoteAddress string) bool {
	host, _, err := net.SplitHostPort(remoteAddress)
	if err != nil {
		return false
	}
	address, err := netip.ParseAddr(host)
	return err == nil && address.Unmap().IsLoopback()
}
