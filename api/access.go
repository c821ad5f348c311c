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

// protect wraps handler: a request without the right key gets 401, or, when no key
// is configured, a request from a non-loopback address gets 403, each with the API's
// JSON error body. The key never appears in an answer or a log.
func (a access) protect(handler http.HandlerFunc) http.HandlerFunc {
	return func(writer http.ResponseWriter, request *http.Request) {
		if a.keyDigest == nil {
			if !isLoopback(request.RemoteAddr) {
				writeError(writer, http.StatusForbidden, "forbidden",
					"no API key is configured, so this endpoint answers loopback clients only")
				return
			}
			handler(writer, request)
			return
		}
		given := sha256.Sum256([]byte(auth.BearerToken(request.Header.Get("Authorization"))))
		if subtle.ConstantTimeCompare(given[:], a.keyDigest[:]) != 1 {
			writer.Header().Set("WWW-Authenticate", `Bearer realm="wsgate"`)
			writeError(writer, http.StatusUnauthorized, "unauthorized",
				"a valid API key is required as \"Authorization: Bearer <key>\"")
			return
		}
		handler(writer, request)
	}
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
