package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify measures one token check per algorithm: the cost every WebSocket
// upgrade pays when JWT is configured.
func BenchmarkVerify(b *testing.B) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	claims := claimsFor("alice", time.Hour)
	cases := []struct {
		name   string
		config Config
		token  string
	}{
		{"HS256", Config{Secret: testSecret}, sign(b, jwt.SigningMethodHS256, testSecret, claims)},
		{"RS256", Config{PublicKeyPEM: publicKeyPEM(b, &rsaKey.PublicKey)}, sign(b, jwt.SigningMethodRS256, rsaKey, claims)},
		{"ES256", Config{PublicKeyPEM: publicKeyPEM(b, &ecKey.PublicKey)}, sign(b, jwt.SigningMethodES256, ecKey, claims)},
	}
	for _, test := range cases {
		verifier, err := NewVerifier(test.config)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(test.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := verifier.Verify(test.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
