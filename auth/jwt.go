// Package auth decides who may connect to wsgate: it verifies the JWT a client
// presents (HS256, RS256 or ES256, with optional audience and issuer checks), finds
// that token in an upgrade request, and checks the request's Origin. It knows
// nothing of sessions or transports, so gateway, engine and api may all use it.
package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinimumSecretSize is the shortest HS256 secret NewVerifier accepts, in bytes: RFC
// 7518 section 3.2 requires a key at least as long as the hash output (256 bits).
const MinimumSecretSize = 32

// Config configures a Verifier. Exactly one of Secret and PublicKeyPEM must be set;
// the other fields are optional.
type Config struct {
	// Secret is the shared HMAC key: tokens must be signed with HS256. At least
	// MinimumSecretSize bytes.
	Secret []byte
	// PublicKeyPEM holds one PEM block ("PUBLIC KEY", "RSA PUBLIC KEY" or
	// "CERTIFICATE"): an RSA key of 2048 bits or more means tokens must be signed
	// with RS256, an ECDSA P-256 key means ES256.
	PublicKeyPEM []byte
	// Audience, when set, must be one of the token's "aud" values. Default: not
	// checked.
	Audience string
	// Issuer, when set, must equal the token's "iss". Default: not checked.
	Issuer string
}

// Enabled reports whether config asks for token verification at all (a secret or
// a public key is set).
func (config Config) Enabled() bool {
	return len(config.Secret) > 0 || len(config.PublicKeyPEM) > 0
}

// Identity is what a valid token says about its holder.
type Identity struct {
	// UserID is the token's "sub" claim, never empty.
	UserID string
	// ExpiresAt is the token's "exp" claim; the zero time when the token has none
	// and so never expires.
	ExpiresAt time.Time
	// Grants is the token's "wsgate" claim: which channels the connection may
	// subscribe and publish to, which it is subscribed to on connect, and whether it
	// may broadcast. Nil when the token has no such claim: it is then granted
	// nothing beyond what the channel namespaces open to every authenticated
	// connection.
	Grants *Grants
}

// The reasons a token is refused, returned (possibly wrapped) by Verifier.Verify
// and Verifier.Authenticate. Their texts never contain the token.
var (
	// ErrNoToken: the request carried no token.
	ErrNoToken = errors.New("no token")
	// ErrMalformedToken: the text is not a JWT, or its claims are not valid JSON
	// of the registered types.
	ErrMalformedToken = errors.New("malformed token")
	// ErrWrongAlgorithm: the token's "alg" is not the configured algorithm (this
	// includes "none", HS512 where HS256 is configured, and an HMAC token where a
	// public key is configured).
	ErrWrongAlgorithm = errors.New("token signed with a wrong algorithm")
	// ErrBadSignature: the signature does not verify with the configured key.
	ErrBadSignature = errors.New("token signature is invalid")
	// ErrTokenExpired: the token's "exp" has passed.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenNotYetValid: the token's "nbf" lies in the future.
	ErrTokenNotYetValid = errors.New("token not valid yet")
	// ErrWrongAudience: an audience is configured and the token's "aud" lacks it.
	ErrWrongAudience = errors.New("token audience is not accepted")
	// ErrWrongIssuer: an issuer is configured and the token's "iss" differs.
	ErrWrongIssuer = errors.New("token issuer is not accepted")
	// ErrNoSubject: the token has no "sub", so no user id.
	ErrNoSubject = errors.New("token has no subject")
	// ErrSubscriptionToken: a subscription token (one with a "channel" claim) was
	// presented to open a connection.
	ErrSubscriptionToken = errors.New("a subscription token cannot open a connection")
	// ErrWrongSubject: a subscription token's "sub" is not the connection's user.
	ErrWrongSubject = errors.New("subscription token belongs to another user")
	// ErrWrongChannel: a subscription token's "channel" is missing or names
	// another channel.
	ErrWrongChannel = errors.New("subscription token is for another channel")
)

// Verifier checks client tokens. It is immutable after NewVerifier and safe for
// concurrent use. Verify runs once per upgrade; on the project's 2-core machine it
// costs about 3 µs for HS256, 33 µs for RS256 (2048-bit) and 75 µs for ES256, and
// 2-3 KB of garbage (BenchmarkVerify): ES256 bounds a core to about 13,000 upgrades
// per second.
type Verifier struct {
	algorithm string
	key       any
	audience  string
	issuer    string
	parser    *jwt.Parser
}

// NewVerifier returns a Verifier for config, or an error when config sets neither
// or both of Secret and PublicKeyPEM, the secret is shorter than
// MinimumSecretSize, or the key cannot be used.
func NewVerifier(config Config) (*Verifier, error) {
	verifier := &Verifier{audience: config.Audience, issuer: config.Issuer}
	switch {
	case len(config.Secret) > 0 && len(config.PublicKeyPEM) > 0:
		return nil, errors.New("auth: set either a secret or a public key, not both")
	case len(config.Secret) > 0:
		if len(config.Secret) < MinimumSecretSize {
			return nil, fmt.Errorf("auth: the HS256 secret must be at least %d bytes", MinimumSecretSize)
		}
		verifier.algorithm = jwt.SigningMethodHS256.Alg()
		verifier.key = slices.Clone(config.Secret)
	case len(config.PublicKeyPEM) > 0:
		algorithm, key, err := parsePublicKey(config.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		verifier.algorithm, verifier.key = algorithm, key
	default:
		return nil, errors.New("auth: a secret or a public key is required")
	}
	verifier.parser = jwt.NewParser(jwt.WithValidMethods([]string{verifier.algorithm}))
	return verifier, nil
}

// Verify checks a connection token: its algorithm, signature, "exp", "nbf", the
// configured audience and issuer, and that it has a "sub", and returns the holder's
// identity with the grants of its "wsgate" claim. A token without "exp" is accepted
// and never expires. A subscription token (one with a "channel" claim) is refused
// with ErrSubscriptionToken: it grants one channel and must not open a connection
// as its user. The error is one of the Err values of this package.
func (v *Verifier) Verify(token string) (Identity, error) {
	claims, err := v.verify(token)
	if err != nil {
		return Identity{}, err
	}
	if claims.Channel != "" {
		return Identity{}, ErrSubscriptionToken
	}
	identity := Identity{UserID: claims.Subject, Grants: claims.Grants}
	if claims.ExpiresAt != nil {
		identity.ExpiresAt = claims.ExpiresAt.Time
	}
	return identity, nil
}

// verify checks what every token of wsgate needs (algorithm, signature, "exp",
// "nbf", audience, issuer, "sub") and returns its claims.
func (v *Verifier) verify(token string) (*tokenClaims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	var claims tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return v.key, nil })
	if err != nil {
		return nil, v.classify(parsed, err)
	}
	if v.audience != "" && !slices.Contains(claims.Audience, v.audience) {
		return nil, ErrWrongAudience
	}
	if v.issuer != "" && claims.Issuer != v.issuer {
		return nil, ErrWrongIssuer
	}
	if claims.Subject == "" {
		return nil, ErrNoSubject
	}
	return &claims, nil
}

// classify maps the JWT library's error to this package's reasons, so logs and
// tests see one stable cause and never the library's wording.
func (v *Verifier) classify(parsed *jwt.Token, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformedToken
	case parsed == nil || parsed.Method == nil || parsed.Method.Alg() != v.algorithm:
		return ErrWrongAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrTokenNotYetValid
	}
	return ErrMalformedToken
}
