package gateway_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

const (
	testJWTSecret = "test-secret-of-at-least-thirty-two-bytes"
	testAPIKey    = "test-api-key-1f2e3d4c5b6a"
)

// jwtNode starts a node that requires HS256 tokens signed with testJWTSecret, with
// audience "wsgate" and issuer "backend", and the API key testAPIKey.
func jwtNode(t *testing.T) *node {
	t.Helper()
	return startNode(t, gateway.Config{
		JWT:    auth.Config{Secret: []byte(testJWTSecret), Audience: "wsgate", Issuer: "backend"},
		APIKey: testAPIKey,
	})
}

// claims returns the claims jwtNode accepts, for subject, expiring in lifetime.
func claims(subject string, lifetime time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"sub": subject, "aud": "wsgate", "iss": "backend", "exp": time.Now().Add(lifetime).Unix()}
}

// mint signs claims with method and key.
func mint(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return token
}

// validToken returns a token jwtNode accepts for subject, valid for an hour.
func validToken(t *testing.T, subject string) string {
	return mint(t, jwt.SigningMethodHS256, []byte(testJWTSecret), claims(subject, time.Hour))
}

// dialToken connects with token in the Authorization header.
func (n *node) dialToken(token string) *websocket.Conn {
	n.t.Helper()
	conn, _, err := n.dialWith(nil, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		n.t.Fatalf("dial: %v", err)
	}
	return conn
}

// welcome returns the welcome message of conn.
func welcome(t *testing.T, conn *websocket.Conn) message {
	t.Helper()
	send(t, conn, map[string]string{"type": "hello"})
	got := readMessage(t, conn, readTimeout)
	if got["type"] != "welcome" {
		t.Fatalf("got %v, want a welcome", got)
	}
	return got
}

func TestTokenIsAcceptedFromEverySource(t *testing.T) {
	n := jwtNode(t)
	token := validToken(t, "alice")
	sources := map[string]struct {
		query  url.Values
		header http.Header
	}{
		"authorization header": {header: http.Header{"Authorization": {"Bearer " + token}}},
		"query parameter":      {query: url.Values{"token": {token}}},
		"subprotocol":          {header: http.Header{"Sec-WebSocket-Protocol": {"wsgate.v1, bearer." + token}}},
	}
	for name, source := range sources {
		t.Run(name, func(t *testing.T) {
			conn, response, err := n.dialWith(source.query, source.header)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if got := welcome(t, conn)["user_id"]; got != "alice" {
				t.Fatalf("user_id %v, want the token's sub alice", got)
			}
			for name, values := range response.Header {
				if strings.Contains(strings.Join(values, ","), token) {
					t.Fatalf("upgrade response header %s echoes the token", name)
				}
			}
			if source.header.Get("Sec-WebSocket-Protocol") != "" && conn.Subprotocol() != "wsgate.v1" {
				t.Fatalf("selected subprotocol %q, want wsgate.v1", conn.Subprotocol())
			}
		})
	}
}

// TestUpgradeResponseNeverContainsTheToken reads the raw upgrade response bytes, so
// no header a client library hides can carry the token back.
func TestUpgradeResponseNeverContainsTheToken(t *testing.T) {
	n := jwtNode(t)
	token := validToken(t, "alice")
	conn, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	request := "GET /api/v1/ws HTTP/1.1\r\nHost: " + n.Addr().String() + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: wsgate.v1, bearer." + token + "\r\n\r\n"
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	reader := bufio.NewReader(conn)
	var head strings.Builder
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			t.Fatalf("read response: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	response := head.String()
	if !strings.HasPrefix(response, "HTTP/1.1 101") {
		t.Fatalf("response %q, want 101", response)
	}
	if !strings.Contains(response, "Sec-WebSocket-Protocol: wsgate.v1\r\n") {
		t.Fatalf("response %q does not select wsgate.v1", response)
	}
	signature := token[strings.LastIndex(token, ".")+1:]
	if strings.Contains(response, signature) || strings.Contains(response, "bearer.") {
		t.Fatalf("upgrade response echoes the token: %q", response)
	}
}

func TestEveryBadTokenIsRefusedWithUnauthorizedAndCounted(t *testing.T) {
	n := jwtNode(t)
	secret := []byte(testJWTSecret)
	without := func(claim string) jwt.MapClaims {
		c := claims("alice", time.Hour)
		delete(c, claim)
		return c
	}
	with := func(claim string, value any) jwt.MapClaims {
		c := claims("alice", time.Hour)
		c[claim] = value
		return c
	}
	wrongSecret := []byte("another-secret-of-thirty-two-bytes-or-more")
	cases := map[string]http.Header{
		"no token":        {},
		"malformed token": {"Authorization": {"Bearer not-a-jwt"}},
		"wrong scheme":    {"Authorization": {"Basic " + validToken(t, "alice")}},
		"bad signature":   {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, wrongSecret, claims("alice", time.Hour))}},
		"alg none": {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			claims("alice", time.Hour))}},
		"HS512 where HS256 is set": {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS512, secret, claims("alice", time.Hour))}},
		"expired":                  {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, secret, claims("alice", -time.Minute))}},
		"wrong audience":           {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, secret, with("aud", "other"))}},
		"no audience":              {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, secret, without("aud"))}},
		"wrong issuer":             {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, secret, with("iss", "mallory"))}},
		"no sub":                   {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, secret, without("sub"))}},
		"empty sub":                {"Authorization": {"Bearer " + mint(t, jwt.SigningMethodHS256, secret, with("sub", ""))}},
		"bad token as subprotocol": {"Sec-WebSocket-Protocol": {"wsgate.v1, bearer.not-a-jwt"}},
	}
	refused := 0
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			conn, _, err := n.dialWith(nil, header)
			if err != nil {
				t.Fatalf("the upgrade must complete (browsers cannot read its status): %v", err)
			}
			if code, text := readClose(t, conn, 3*time.Second); code != 4401 || text != "unauthorized" {
				t.Fatalf("closed with %d %q, want 4401 \"unauthorized\"", code, text)
			}
			refused++
		})
	}
	counters := n.Hub.Counters()
	if got := counters.Refused[session.ReasonUnauthorized]; got != uint64(refused) || refused != len(cases) {
		t.Fatalf("Refused[unauthorized] = %d, want %d", got, len(cases))
	}
	if counters.Accepted != 0 || n.Hub.ConnectionCount() != 0 {
		t.Fatalf("a refused client entered the registry: accepted %d, open %d", counters.Accepted, n.Hub.ConnectionCount())
	}
}

func TestPublicKeyNodesAcceptTheirAlgorithmOnly(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	tests := map[string]struct {
		method    jwt.SigningMethod
		private   any
		public    any
		forgeries map[string]jwt.SigningMethod
	}{
		"RS256": {jwt.SigningMethodRS256, rsaKey, &rsaKey.PublicKey,
			map[string]jwt.SigningMethod{"HS256 with the public key": jwt.SigningMethodHS256, "RS512": jwt.SigningMethodRS512}},
		"ES256": {jwt.SigningMethodES256, ecKey, &ecKey.PublicKey,
			map[string]jwt.SigningMethod{"HS256 with the public key": jwt.SigningMethodHS256}},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			der, err := x509.MarshalPKIXPublicKey(test.public)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			n := startNode(t, gateway.Config{JWT: auth.Config{PublicKeyPEM: publicPEM}})
			conn := n.dialToken(mint(t, test.method, test.private, jwt.MapClaims{"sub": "carol"}))
			if got := welcome(t, conn)["user_id"]; got != "carol" {
				t.Fatalf("user_id %v, want carol", got)
			}
			for forgery, method := range test.forgeries {
				key := test.private
				if method == jwt.SigningMethodHS256 {
					// The key confusion attack: the public key, which anyone has, as HMAC secret.
					key = publicPEM
				}
				conn := n.dialToken(mint(t, method, key, jwt.MapClaims{"sub": "mallory"}))
				if code, _ := readClose(t, conn, 3*time.Second); code != 4401 {
					t.Fatalf("%s: closed with %d, want 4401", forgery, code)
				}
			}
			if got := n.Hub.Counters().Refused[session.ReasonUnauthorized]; got != uint64(len(test.forgeries)) {
				t.Fatalf("Refused[unauthorized] = %d, want %d", got, len(test.forgeries))
			}
		})
	}
}

func TestTokenExpiryClosesALiveConnection(t *testing.T) {
	n := jwtNode(t)
	// exp has whole-second precision: this token expires 1 to 2 seconds from now.
	expiresAt := time.Now().Add(2 * time.Second).Truncate(time.Second)
	conn := n.dialToken(mint(t, jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{
		"sub": "alice", "aud": "wsgate", "iss": "backend", "exp": expiresAt.Unix()}))
	welcome(t, conn)
	other := n.dialToken(validToken(t, "bob"))
	code, text := readClose(t, conn, 5*time.Second)
	closedAt := time.Now()
	if code != 4100 || text != "token expired" {
		t.Fatalf("closed with %d %q, want 4100 \"token expired\"", code, text)
	}
	if closedAt.Before(expiresAt) || closedAt.After(expiresAt.Add(time.Second)) {
		t.Fatalf("closed at %v, want within a second after exp %v", closedAt, expiresAt)
	}
	waitFor(t, 2*time.Second, "the expired connection to leave the registry", func() bool {
		return n.Hub.ConnectionCount() == 1
	})
	if got := n.Hub.Counters().Disconnects[session.ReasonTokenExpired]; got != 1 {
		t.Fatalf("Disconnects[token_expired] = %d, want 1", got)
	}
	expectNothingPending(t, other)
}

func TestConnectionClosedBeforeExpiryLeavesNoTimer(t *testing.T) {
	n := jwtNode(t)
	pendingBefore := n.Hub.Wheel().Pending()
	conn := n.dialToken(validToken(t, "alice"))
	welcome(t, conn)
	if n.Hub.Wheel().Pending() <= pendingBefore {
		t.Fatal("no expiry timer armed for a connection whose token expires")
	}
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	waitFor(t, 3*time.Second, "the connection's timers to be cancelled", func() bool {
		return n.Hub.Wheel().Pending() == pendingBefore
	})
}

func TestInsecureUserIDCannotBeCombinedWithJWT(t *testing.T) {
	_, err := gateway.New(gateway.Config{InsecureUserID: true, JWT: auth.Config{Secret: []byte(testJWTSecret)}})
	if err == nil {
		t.Fatal("gateway.New accepted -insecure-user-id together with JWT")
	}
	if _, err := gateway.New(gateway.Config{JWT: auth.Config{Audience: "wsgate"}}); err == nil {
		t.Fatal("gateway.New accepted a JWT audience without a secret or key")
	}
}

func TestTokensAndAPIKeysAreNeverLogged(t *testing.T) {
	var logs testsupport.SyncBuffer
	n := startNode(t, gateway.Config{
		JWT:    auth.Config{Secret: []byte(testJWTSecret)},
		APIKey: testAPIKey,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	forged := mint(t, jwt.SigningMethodHS256, []byte("a-forged-secret-of-thirty-two-bytes!"), jwt.MapClaims{"sub": "alice"})
	refused := n.dialToken(forged)
	if code, _ := readClose(t, refused, 3*time.Second); code != 4401 {
		t.Fatalf("forged token: closed with %d, want 4401", code)
	}
	valid := mint(t, jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"sub": "bob"})
	conn, _, err := n.dialWith(url.Values{"token": {valid}}, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	connectionID := welcome(t, conn)["connection_id"].(string)
	if status, _ := n.apiCall("POST", "/api/v1/users/bob/send", testAPIKey, map[string]any{"message": map[string]any{}}); status != 200 {
		t.Fatalf("send: status %d", status)
	}
	if status, _ := n.apiCall("POST", "/api/v1/broadcast", "wrong-"+testAPIKey, map[string]any{"message": map[string]any{}}); status != 401 {
		t.Fatalf("broadcast with a wrong key: status %d, want 401", status)
	}
	if status, _ := n.apiCall("DELETE", "/api/v1/connections/"+connectionID, testAPIKey, nil); status != 200 {
		t.Fatalf("kick: status %d", status)
	}
	readClose(t, conn, 3*time.Second)
	for key, want := range map[string]int{"wrong-" + testAPIKey: http.StatusUnauthorized, testAPIKey: http.StatusOK} {
		if status, _ := n.getText("/metrics", key); status != want {
			t.Fatalf("/metrics: status %d, want %d", status, want)
		}
	}
	text := logs.String()
	for _, required := range []string{"token refused", "connection refused", "connection kicked"} {
		if !strings.Contains(text, required) {
			t.Fatalf("the log lacks %q, so this test would not see a leak; log:\n%s", required, text)
		}
	}
	for name, secret := range map[string]string{
		"forged token": forged, "valid token": valid, "API key": testAPIKey, "JWT secret": testJWTSecret,
		"valid token signature": valid[strings.LastIndex(valid, ".")+1:],
	} {
		if strings.Contains(text, secret) {
			t.Fatalf("the log contains the %s:\n%s", name, text)
		}
	}
}
