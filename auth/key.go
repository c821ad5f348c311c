package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// minimumRSABits is the smallest RSA modulus accepted for RS256 (NIST SP 800-131A).
const minimumRSABits = 2048

// parsePublicKey reads one PEM block holding an RSA or ECDSA P-256 public key, as a
// PKIX "PUBLIC KEY", a PKCS #1 "RSA PUBLIC KEY" or the key of a "CERTIFICATE", and
// returns the algorithm the key verifies.
func parsePublicKey(data []byte) (string, any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return "", nil, errors.New("the public key is not PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var certificate *x509.Certificate
		certificate, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			key = certificate.PublicKey
		}
	default:
		return "", nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return "", nil, fmt.Errorf("public key: %w", err)
	}
	switch typed := key.(type) {
	case *rsa.PublicKey:
		if typed.N.BitLen() < minimumRSABits {
			return "", nil, fmt.Errorf("the RSA public key has %d bits; at least %d are required",
				typed.N.BitLen(), minimumRSABits)
		}
		return jwt.SigningMethodRS256.Alg(), typed, nil
	case *ecdsa.PublicKey:
		if typed.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("the ECDSA public key is on %s; ES256 needs P-256", typed.Curve.Params().Name)
		}
		return jwt.SigningMethodES256.Alg(), typed, nil
	}
	return "", nil, fmt.Errorf("public keys of type %T are not supported; use RSA (RS256) or ECDSA P-256 (ES256)", key)
}
