package auth

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// wsgateClaims is a token's claims as a backend writes them, with wsgate's own.
type wsgateClaims struct {
	jwt.RegisteredClaims
	Wsgate  any    `json:"wsgate,omitempty"`
	Channel string `json:"channel,omitempty"`
}

func TestVerifyReadsGrants(t *testing.T) {
	verifier := newVerifier(t, Config{Secret: testSecret})
	grants := map[string]any{"subscribe": []string{"news", "chat:*"}, "publish": []string{"chat:*"},
		"channels": []string{"user:42"}, "broadcast": true}
	identity, err := verifier.Verify(sign(t, jwt.SigningMethodHS256, testSecret,
		wsgateClaims{RegisteredClaims: claimsFor("42", time.Hour), Wsgate: grants}))
	if err != nil {
		t.Fatalf("token with grants refused: %v", err)
	}
	want := &Grants{Subscribe: []string{"news", "chat:*"}, Publish: []string{"chat:*"},
		Channels: []string{"user:42"}, Broadcast: true}
	if !reflect.DeepEqual(identity.Grants, want) {
		t.Fatalf("grants %+v, want %+v", identity.Grants, want)
	}

	identity, err = verifier.Verify(sign(t, jwt.SigningMethodHS256, testSecret, claimsFor("42", time.Hour)))
	if err != nil || identity.Grants != nil {
		t.Fatalf("token without a wsgate claim: grants %+v, error %v; want nil, nil", identity.Grants, err)
	}

	_, err = verifier.Verify(sign(t, jwt.SigningMethodHS256, testSecret,
		wsgateClaims{RegisteredClaims: claimsFor("42", time.Hour), Wsgate: "everything"}))
	if !errors.Is(err, ErrMalformedToken) {
		t.Fatalf("a wsgate claim that is not an object: error %v, want ErrMalformedToken", err)
	}
}

func TestConnectionRefusesSubscriptionToken(t *testing.T) {
	verifier := newVerifier(t, Config{Secret: testSecret})
	token := sign(t, jwt.SigningMethodHS256, testSecret,
		wsgateClaims{RegisteredClaims: claimsFor("42", time.Hour), Channel: "news"})
	if _, err := verifier.Verify(token); !errors.Is(err, ErrSubscriptionToken) {
		t.Fatalf("subscription token used to connect: error %v, want ErrSubscriptionToken", err)
	}
}

func TestVerifySubscription(t *testing.T) {
	verifier := newVerifier(t, Config{Secret: testSecret, Audience: "app"})
	subscription := func(subject, channel string, lifetime time.Duration) string {
		claims := wsgateClaims{RegisteredClaims: claimsFor(subject, lifetime), Channel: channel}
		claims.Audience = jwt.ClaimStrings{"app"}
		return sign(t, jwt.SigningMethodHS256, testSecret, claims)
	}
	valid := wsgateClaims{RegisteredClaims: claimsFor("42", time.Hour), Channel: "chat:room #1"}
	valid.Audience = jwt.ClaimStrings{"app"}
	expiresAt, err := verifier.VerifySubscription(sign(t, jwt.SigningMethodHS256, testSecret, valid), "42", "chat:room #1")
	if err != nil || !expiresAt.Equal(valid.ExpiresAt.Time) {
		t.Fatalf("valid subscription token: expiry %v, error %v; want %v, nil", expiresAt, err, valid.ExpiresAt.Time)
	}

	wrongAudience := valid
	wrongAudience.Audience = jwt.ClaimStrings{"other"}
	otherSecret := []byte("another secret of thirty-two bytes!!")
	tests := []struct {
		name    string
		token   string
		user    string
		channel string
		want    error
	}{
		{"another user's token", subscription("43", "news", time.Hour), "42", "news", ErrWrongSubject},
		{"another channel's token", subscription("42", "sports", time.Hour), "42", "news", ErrWrongChannel},
		{"a connection token", subscription("42", "", time.Hour), "42", "news", ErrWrongChannel},
		{"expired", subscription("42", "news", -time.Minute), "42", "news", ErrTokenExpired},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, testSecret, wrongAudience), "42", "chat:room #1", ErrWrongAudience},
		{"another key", sign(t, jwt.SigningMethodHS256, otherSecret, valid), "42", "chat:room #1", ErrBadSignature},
		{"no token", "", "42", "news", ErrNoToken},
		{"not a JWT", "abc.def", "42", "news", ErrMalformedToken},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if _, err := verifier.VerifySubscription(test.token, test.user, test.channel); !errors.Is(err, test.want) {
				t.Fatalf("error %v, want %v", err, test.want)
			}
		})
	}
}

func TestVerifySubscriptionWithoutExpiry(t *testing.T) {
	verifier := newVerifier(t, Config{Secret: testSecret})
	token := sign(t, jwt.SigningMethodHS256, testSecret,
		wsgateClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: "42"}, Channel: "news"})
	expiresAt, err := verifier.VerifySubscription(token, "42", "news")
	if err != nil || !expiresAt.IsZero() {
		t.Fatalf("expiry %v, error %v; want the zero time and nil", expiresAt, err)
	}
}
