package auth

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grants is the "wsgate" claim of a connection token: what the backend allows the
// connection to do with channels, in a claim of its own so it never clashes with
// the application's claims:
//
//	"wsgate": {"subscribe": ["news", "chat:*"], "publish": ["chat:*"],
//	           "channels": ["user:42"], "broadcast": false}
//
// Subscribe and Publish hold patterns: an exact channel name, or a prefix ending in
// "*" ("chat:*" matches every channel starting with "chat:"). Channels lists the
// channels the server subscribes the connection to as it connects. Broadcast allows
// the seed's client "broadcast" to every connection. A Grants is immutable once
// verified and safe to share between goroutines; a connection without the claim
// holds none (nil), so idle connections pay nothing for it.
type Grants struct {
	// Subscribe lists the channel patterns the connection may subscribe to.
	Subscribe []string `json:"subscribe,omitempty"`
	// Publish lists the channel patterns the connection may publish to. A grant is
	// the backend's explicit word, so it allows publishing even in a namespace that
	// keeps client publications off (the default).
	Publish []string `json:"publish,omitempty"`
	// Channels lists channels the connection is subscribed to on connect.
	Channels []string `json:"channels,omitempty"`
	// Broadcast allows the client to send the seed's "broadcast" message.
	Broadcast bool `json:"broadcast,omitempty"`
}

// tokenClaims are the claims wsgate reads from its tokens: the registered ones,
// the connection token's grants, and the subscription token's channel.
type tokenClaims struct {
	jwt.RegisteredClaims
	Grants  *Grants `json:"wsgate,omitempty"`
	Channel string  `json:"channel,omitempty"`
}

// VerifySubscription checks a subscription token: a JWT signed like connection
// tokens (same key, audience and issuer rules) whose "sub" is userID and whose
// "channel" claim is channel. It grants that one channel, so a token does not have
// to list thousands of channels and a backend can decide per channel. It returns
// when the token expires (the zero time: never), or one of the Err values of this
// package: ErrWrongSubject for another user's token, ErrWrongChannel for another
// channel's (or for a connection token). Safe for concurrent use.
func (v *Verifier) VerifySubscription(token, userID, channel string) (time.Time, error) {
	claims, err := v.verify(token)
	if err != nil {
		return time.Time{}, err
	}
	if claims.Subject != userID {
		return time.Time{}, ErrWrongSubject
	}
	if claims.Channel == "" || claims.Channel != channel {
		return time.Time{}, ErrWrongChannel
	}
	if claims.ExpiresAt == nil {
		return time.Time{}, nil
	}
	return claims.ExpiresAt.Time, nil
}
