package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// sign returns claims signed with method and key; it fails the test on error.
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return token
}

// claimsFor returns claims for subject that expire in lifetime.
func claimsFor(subject string, lifetime time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Subject: subject, ExpiresAt: jwt.NewNumericDate(time.Now().Add(lifetime))}
}

func publicKeyPEM(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newVerifier(t *testing.T, config Config) *Verifier {
	t.Helper()
	verifier, err := NewVerifier(config)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return verifier
}

func TestVerifyHS256(t *testing.T) {
	verifier := newVerifier(t, Config{Secret: testSecret, Audience: "app", Issuer: "backend"})
	valid := claimsFor("alice", time.Hour)
	valid.Audience = jwt.ClaimStrings{"other", "app"}
	valid.Issuer = "backend"
	identity, err := verifier.Verify(sign(t, jwt.SigningMethodHS256, testSecret, valid))
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if identity.UserID != "alice" || !identity.ExpiresAt.Equal(valid.ExpiresAt.Time) {
		t.Fatalf("identity %+v, want alice expiring at %v", identity, valid.ExpiresAt.Time)
	}

	with := func(change func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		claims := valid
		change(&claims)
		return claims
	}
	otherSecret := []byte("another secret of thirty-two bytes!!")
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrNoToken},
		{"not a JWT", "hello", ErrMalformedToken},
		{"garbage segments", "a.b.c", ErrMalformedToken},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, otherSecret, valid), ErrBadSignature},
		{"tampered payload", tamper(sign(t, jwt.SigningMethodHS256, testSecret, valid)), ErrBadSignature},
		{"HS512", sign(t, jwt.SigningMethodHS512, testSecret, valid), ErrWrongAlgorithm},
		{"HS384", sign(t, jwt.SigningMethodHS384, testSecret, valid), ErrWrongAlgorithm},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), ErrWrongAlgorithm},
		{"unknown alg", unknownAlgorithm(t, valid), ErrWrongAlgorithm},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Second))
		})), ErrTokenExpired},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})), ErrTokenNotYetValid},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.Audience = jwt.ClaimStrings{"other"}
		})), ErrWrongAudience},
		{"no audience", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.Audience = nil
		})), ErrWrongAudience},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.Issuer = "mallory"
		})), ErrWrongIssuer},
		{"no issuer", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.Issuer = ""
		})), ErrWrongIssuer},
		{"no subject", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.Subject = ""
		})), ErrNoSubject},
		{"subject not a string", sign(t, jwt.SigningMethodHS256, testSecret,
			jwt.MapClaims{"sub": 42, "aud": "app", "iss": "backend"}), ErrMalformedToken},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			identity, err := verifier.Verify(test.token)
			if !errors.Is(err, test.want) {
				t.Fatalf("Verify: error %v, want %v", err, test.want)
			}
			if identity != (Identity{}) {
				t.Fatalf("refused token returned identity %+v", identity)
			}
			if test.token != "" && strings.Contains(err.Error(), test.token) {
				t.Fatalf("error text %q contains the token", err)
			}
		})
	}
}

func TestVerifyWithoutExpiry(t *testing.T) {
	verifier := newVerifier(t, Config{Secret: testSecret})
	identity, err := verifier.Verify(sign(t, jwt.SigningMethodHS256, testSecret, jwt.RegisteredClaims{Subject: "bob"}))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if identity.UserID != "bob" || !identity.ExpiresAt.IsZero() {
		t.Fatalf("identity %+v, want bob without expiry", identity)
	}
}

func TestVerifyRS256(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	publicPEM := publicKeyPEM(t, &key.PublicKey)
	verifier := newVerifier(t, Config{PublicKeyPEM: publicPEM})
	claims := claimsFor("carol", time.Hour)
	if identity, err := verifier.Verify(sign(t, jwt.SigningMethodRS256, key, claims)); err != nil || identity.UserID != "carol" {
		t.Fatalf("valid RS256 token: identity %+v, error %v", identity, err)
	}
	// The classic key confusion attack: an HMAC token whose secret is the public key.
	confused := sign(t, jwt.SigningMethodHS256, publicPEM, claims)
	if _, err := verifier.Verify(confused); !errors.Is(err, ErrWrongAlgorithm) {
		t.Fatalf("HS256 token signed with the public key: error %v, want %v", err, ErrWrongAlgorithm)
	}
	if _, err := verifier.Verify(sign(t, jwt.SigningMethodRS512, key, claims)); !errors.Is(err, ErrWrongAlgorithm) {
		t.Fatalf("RS512 token: error %v, want %v", err, ErrWrongAlgorithm)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if _, err := verifier.Verify(sign(t, jwt.SigningMethodRS256, other, claims)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("RS256 token of another key: error %v, want %v", err, ErrBadSignature)
	}
}

func TestVerifyES256(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	verifier := newVerifier(t, Config{PublicKeyPEM: publicKeyPEM(t, &key.PublicKey)})
	claims := claimsFor("dave", time.Hour)
	if identity, err := verifier.Verify(sign(t, jwt.SigningMethodES256, key, claims)); err != nil || identity.UserID != "dave" {
		t.Fatalf("valid ES256 token: identity %+v, error %v", identity, err)
	}
	if _, err := verifier.Verify(sign(t, jwt.SigningMethodHS256, testSecret, claims)); !errors.Is(err, ErrWrongAlgorithm) {
		t.Fatalf("HS256 token where ES256 is set: error %v, want %v", err, ErrWrongAlgorithm)
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	tests := map[string]Config{
		"nothing":        {},
		"short secret":   {Secret: []byte("too short")},
		"both":           {Secret: testSecret, PublicKeyPEM: publicKeyPEM(t, &good.PublicKey)},
		"not PEM":        {PublicKeyPEM: []byte("not a key")},
		"private key":    {PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})},
		"small RSA key":  {PublicKeyPEM: publicKeyPEM(t, &small.PublicKey)},
		"P-384 key":      {PublicKeyPEM: publicKeyPEM(t, &p384.PublicKey)},
		"corrupt PKIX":   {PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})},
		"audience alone": {Audience: "app"},
	}
	for name, config := range tests {
		if _, err := NewVerifier(config); err == nil {
			t.Errorf("%s: NewVerifier accepted %+v", name, config)
		}
	}
}

func TestPublicKeyFormats(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
	template := &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	certificate := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	token := sign(t, jwt.SigningMethodRS256, key, claimsFor("erin", time.Hour))
	for name, data := range map[string][]byte{"PKCS #1": pkcs1, "certificate": certificate} {
		verifier := newVerifier(t, Config{PublicKeyPEM: data})
		if identity, err := verifier.Verify(token); err != nil || identity.UserID != "erin" {
			t.Errorf("%s: identity %+v, error %v", name, identity, err)
		}
	}
}

// tamper changes the payload of a signed token, keeping its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	claims, _ := jwt.NewParser().DecodeSegment(parts[1])
	changed := strings.Replace(string(claims), `"alice"`, `"admin"`, 1)
	parts[1] = encodeSegment([]byte(changed))
	return strings.Join(parts, ".")
}

// unknownAlgorithm returns a token whose header names an algorithm nobody implements.
func unknownAlgorithm(t *testing.T, claims jwt.Claims) string {
	t.Helper()
	parts := strings.Split(sign(t, jwt.SigningMethodHS256, testSecret, claims), ".")
	parts[0] = encodeSegment([]byte(`{"alg":"XS256","typ":"JWT"}`))
	return strings.Join(parts, ".")
}

func encodeSegment(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

func bigOne() *big.Int { return big.NewInt(1) }
