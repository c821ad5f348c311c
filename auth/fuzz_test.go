package auth

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// verifyErrors are the reasons Verify and VerifySubscription may give.
var verifyErrors = []error{
	ErrNoToken, ErrMalformedToken, ErrWrongAlgorithm, ErrBadSignature, ErrTokenExpired, ErrTokenNotYetValid,
	ErrWrongAudience, ErrWrongIssuer, ErrNoSubject, ErrSubscriptionToken, ErrWrongSubject, ErrWrongChannel,
}

// signedWithSecret reports whether token is header.payload.signature whose header
// names HS256 and whose signature is the HMAC-SHA256 of header.payload under
// secret: an independent check of what the verifier accepted.
func signedWithSecret(token string, secret []byte) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	headerJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var header struct {
		Algorithm string `json:"alg"`
	}
	if json.Unmarshal(headerJSON, &header) != nil || header.Algorithm != "HS256" {
		return false
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	return hmac.Equal(signature, mac.Sum(nil))
}

// checkVerdict fails unless err is one of the package's reasons or nil for a token
// signed with testSecret and naming a user.
func checkVerdict(t *testing.T, token string, userID string, err error) {
	t.Helper()
	if err != nil {
		if !slices.ContainsFunc(verifyErrors, func(reason error) bool { return errors.Is(err, reason) }) {
			t.Fatalf("token %q refused with %v, not one of the package's reasons", token, err)
		}
		if token != "" && len(token) > 8 && strings.Contains(err.Error(), token) {
			t.Fatalf("the refusal of %q repeats the token: %v", token, err)
		}
		return
	}
	if !signedWithSecret(token, testSecret) {
		t.Fatalf("token %q accepted, but it is not signed with the key", token)
	}
	if userID == "" {
		t.Fatalf("token %q accepted without a subject", token)
	}
}

// FuzzVerify feeds arbitrary strings to a HS256 verifier as connection and
// subscription tokens (seeds in testdata/fuzz/FuzzVerify: valid tokens, tokens with
// "alg":"none", HS512, RS256 headers, other keys, broken segments): it never panics,
// refuses with one of the package's reasons, and accepts only what the test's own
// HMAC check says is signed with the key.
func FuzzVerify(f *testing.F) {
	verifier, err := NewVerifier(Config{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		identity, err := verifier.Verify(token)
		checkVerdict(t, token, identity.UserID, err)
		_, err = verifier.VerifySubscription(token, "alice", "news")
		checkVerdict(t, token, "alice", err)
	})
}

// FuzzSignedClaims signs arbitrary claims JSON with the verifier's key or with
// another one (seeds in testdata/fuzz/FuzzSignedClaims): a token signed with another
// key is always refused, whatever its claims, and one signed with the key whose
// claims are an object naming a user and nothing else the verifier checks is
// accepted.
func FuzzSignedClaims(f *testing.F) {
	verifier, err := NewVerifier(Config{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	otherSecret := []byte("another secret of thirty-two bytes!")
	f.Fuzz(func(t *testing.T, claimsJSON string, withKey bool) {
		secret := testSecret
		if !withKey {
			secret = otherSecret
		}
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		signingInput := header + "." + base64.RawURLEncoding.EncodeToString([]byte(claimsJSON))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signingInput))
		token := signingInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

		identity, err := verifier.Verify(token)
		checkVerdict(t, token, identity.UserID, err)
		if !withKey && err == nil {
			t.Fatalf("claims %q signed with another key were accepted", claimsJSON)
		}
		if !withKey || err == nil {
			return
		}
		var claims map[string]any
		if json.Unmarshal([]byte(claimsJSON), &claims) != nil {
			return
		}
		subject, _ := claims["sub"].(string)
		checked := false
		for name := range claims {
			// encoding/json matches claim names case-insensitively.
			checked = checked || (name != "sub" && slices.ContainsFunc(checkedClaims, func(claim string) bool { return strings.EqualFold(name, claim) }))
		}
		if subject != "" && !checked {
			t.Fatalf("claims %q (a subject, nothing else to check) signed with the key were refused: %v", claimsJSON, err)
		}
	})
}

// checkedClaims are the claims the verifier reads besides "sub": any of them may
// make a token signed with the key invalid.
var checkedClaims = []string{"sub", "exp", "nbf", "iat", "aud", "iss", "jti", "channel", "wsgate"}

// FuzzTokenFromRequest builds upgrade requests from arbitrary Authorization,
// Sec-WebSocket-Protocol and ?token= values (seeds in
// testdata/fuzz/FuzzTokenFromRequest): finding the token never panics, the token
// found comes from one of the places in the documented order, and authenticating
// the request refuses anything not signed with the key.
func FuzzTokenFromRequest(f *testing.F) {
	verifier, err := NewVerifier(Config{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, authorization, subprotocols, query string) {
		request := &http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Path: "/api/v1/ws", RawQuery: url.Values{TokenQueryParameter: {query}}.Encode()},
			Header: http.Header{"Authorization": {authorization}, "Sec-Websocket-Protocol": {subprotocols}},
		}
		token := TokenFromRequest(request)
		// RFC 9110 section 11.1: a case-insensitive scheme, one space, the credential.
		var fromHeader string
		if len(authorization) >= 7 && strings.EqualFold(authorization[:7], "Bearer ") {
			fromHeader = strings.TrimSpace(authorization[7:])
		}
		var fromSubprotocol string
		for _, value := range strings.Split(subprotocols, ",") {
			if candidate, found := strings.CutPrefix(strings.TrimSpace(value), SubprotocolTokenPrefix); found && candidate != "" {
				fromSubprotocol = candidate
				break
			}
		}
		want := cmp.Or(fromHeader, fromSubprotocol, query)
		if token != want {
			t.Fatalf("Authorization %q, subprotocols %q, query %q: token %q, want %q", authorization, subprotocols, query, token, want)
		}
		identity, err := verifier.Authenticate(request)
		checkVerdict(t, token, identity.UserID, err)
	})
}
