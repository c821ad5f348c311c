package gateway_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// request sends a channel operation with the given fields and returns the answer.
func request(t *testing.T, conn *websocket.Conn, fields map[string]any) message {
	t.Helper()
	send(t, conn, fields)
	return readMessage(t, conn, readTimeout)
}

// subscribeTo subscribes conn to channel and fails unless it is confirmed.
func subscribeTo(t *testing.T, conn *websocket.Conn, channel string) {
	t.Helper()
	if got := request(t, conn, map[string]any{"type": "subscribe", "channel": channel}); got["type"] != "subscribed" || got["channel"] != channel {
		t.Fatalf("subscribe %q: got %v, want subscribed", channel, got)
	}
}

// expectRefusal requires an error answer with code for channel (and id, when not
// nil); an empty channel name is not echoed.
func expectRefusal(t *testing.T, got message, code, channel string, id any) {
	t.Helper()
	var echoed any = channel
	if channel == "" {
		echoed = nil
	}
	if got["type"] != "error" || got["code"] != code || got["channel"] != echoed || got["id"] != id || got["message"] == "" {
		t.Fatalf("got %v, want error %q for channel %q with id %v", got, code, channel, id)
	}
}

// publishAPI publishes data (raw JSON) to channel through the API and returns the
// number of subscribers it was queued for.
func (n *node) publishAPI(channel, data string) int {
	n.t.Helper()
	status, body := n.apiCall("POST", "/api/v1/channels/"+url.PathEscape(channel)+"/publish", "", `{"data":`+data+`}`)
	if status != http.StatusOK {
		n.t.Fatalf("publish to %q: status %d, body %v", channel, status, body)
	}
	queued, _ := body["queued"].(float64)
	return int(queued)
}

// TestSubscribeReceiveUnsubscribeAndNothingAfter: the publication arrives byte for
// byte, the answers echo the id, and after the unsubscribe nothing arrives.
func TestSubscribeReceiveUnsubscribeAndNothingAfter(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	if got := request(t, conn, map[string]any{"type": "subscribe", "channel": "news", "id": 1}); got["type"] != "subscribed" ||
		got["channel"] != "news" || got["id"] != float64(1) || len(got) != 3 {
		t.Fatalf("got %v, want subscribed with the id", got)
	}
	if queued := n.publishAPI("news", `{"a": [1, 2], "é": "\u00e9"}`); queued != 1 {
		t.Fatalf("queued %d, want 1", queued)
	}
	want := `{"type":"publication","channel":"news","data":{"a": [1, 2], "é": "\u00e9"}}`
	if got := string(readRaw(t, conn, readTimeout)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := request(t, conn, map[string]any{"type": "unsubscribe", "channel": "news", "id": "u"}); got["type"] != "unsubscribed" ||
		got["id"] != "u" || got["reason"] != nil {
		t.Fatalf("got %v, want unsubscribed with the id and no reason", got)
	}
	if queued := n.publishAPI("news", `1`); queued != 0 {
		t.Fatalf("queued %d after the unsubscribe, want 0", queued)
	}
	expectNothingPending(t, conn)
	if stats := n.Publisher.ChannelStats(); stats.Channels != 0 || stats.Subscriptions != 0 || stats.PublicationsFromAPI != 2 ||
		stats.PublicationsDelivered != 1 {
		t.Fatalf("stats %+v, want no channel left, 2 publications in, 1 delivered", stats)
	}
}

// TestTwoChannelsDoNotLeak: each subscriber receives its own channel's publications
// only.
func TestTwoChannelsDoNotLeak(t *testing.T) {
	n := startNode(t, gateway.Config{})
	left, right := n.dial(""), n.dial("")
	subscribeTo(t, left, "left")
	subscribeTo(t, right, "right")
	n.publishAPI("left", `"L"`)
	n.publishAPI("right", `"R"`)
	if got := readMessage(t, left, readTimeout); got["channel"] != "left" || got["data"] != "L" {
		t.Fatalf("left got %v", got)
	}
	if got := readMessage(t, right, readTimeout); got["channel"] != "right" || got["data"] != "R" {
		t.Fatalf("right got %v", got)
	}
	expectNothingPending(t, left)
	expectNothingPending(t, right)
}

// TestChannelOperationsRefusedWithTheirCodes covers the refusals of an anonymous
// node: names, duplicates, limits, client publish off by default.
func TestChannelOperationsRefusedWithTheirCodes(t *testing.T) {
	n := startNode(t, gateway.Config{MaxSubscriptionsPerConnection: 2,
		Namespaces: []channels.NamespaceOptions{{Name: "small", MaxSubscribers: 1}}})
	conn, other := n.dial(""), n.dial("")
	expectRefusal(t, request(t, conn, map[string]any{"type": "subscribe", "channel": "a b", "id": 3}), "invalid_channel", "a b", float64(3))
	expectRefusal(t, request(t, conn, map[string]any{"type": "subscribe", "channel": ""}), "invalid_channel", "", nil)
	subscribeTo(t, conn, "small:room")
	expectRefusal(t, request(t, conn, map[string]any{"type": "subscribe", "channel": "small:room", "id": "x"}), "already_subscribed", "small:room", "x")
	expectRefusal(t, request(t, other, map[string]any{"type": "subscribe", "channel": "small:room"}), "too_many_subscribers", "small:room", nil)
	subscribeTo(t, conn, "second")
	expectRefusal(t, request(t, conn, map[string]any{"type": "subscribe", "channel": "third"}), "too_many_subscriptions", "third", nil)
	expectRefusal(t, request(t, conn, map[string]any{"type": "unsubscribe", "channel": "third"}), "not_subscribed", "third", nil)
	expectRefusal(t, request(t, conn, map[string]any{"type": "publish", "channel": "second", "data": 1}), "publish_not_allowed", "second", nil)
	// The connection stayed open and the seed protocol still answers.
	send(t, conn, map[string]any{"type": "message", "content": "still here"})
	if got := readMessage(t, conn, readTimeout); got["content"] != "still here" {
		t.Fatalf("got %v, want the echo", got)
	}
	stats := n.Publisher.ChannelStats()
	if stats.SubscribeRefusals["invalid_channel"] != 2 || stats.SubscribeRefusals["too_many_subscriptions"] != 1 ||
		stats.SubscribeRefusals["not_subscribed"] != 1 || stats.PublishRefusals["publish_not_allowed"] != 1 {
		t.Fatalf("refusals %+v / %+v", stats.SubscribeRefusals, stats.PublishRefusals)
	}
}

// TestClientPublishFollowsTheNamespace: off by default, "subscribers" needs a
// subscription, "authenticated" a user id; the publisher receives its own
// publication only with publisher_receives; an id gets a "published" ack.
func TestClientPublishFollowsTheNamespace(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, Namespaces: []channels.NamespaceOptions{
		{Name: "chat", Publish: channels.PublishSubscribers},
		{Name: "open", Publish: channels.PublishAuthenticated},
		{Name: "echo", Publish: channels.PublishSubscribers, PublisherReceives: true},
	}})
	alice, bob, anonymous := n.dial("alice"), n.dial("bob"), n.dial("")
	expectRefusal(t, request(t, alice, map[string]any{"type": "publish", "channel": "news", "data": 1, "id": 1}), "publish_not_allowed", "news", float64(1))
	expectRefusal(t, request(t, alice, map[string]any{"type": "publish", "channel": "chat:a", "data": 1}), "permission_denied", "chat:a", nil)
	expectRefusal(t, request(t, anonymous, map[string]any{"type": "publish", "channel": "open:x", "data": 1}), "permission_denied", "open:x", nil)

	for _, conn := range []*websocket.Conn{alice, bob} {
		subscribeTo(t, conn, "chat:a")
		subscribeTo(t, conn, "open:x")
		subscribeTo(t, conn, "echo:e")
	}
	sendText(t, alice, `{"type":"publish","channel":"chat:a","data":{"text": "hi"},"id":"p1"}`)
	if got := readMessage(t, alice, readTimeout); got["type"] != "published" || got["channel"] != "chat:a" || got["id"] != "p1" {
		t.Fatalf("publisher got %v, want the published ack", got)
	}
	if got := string(readRaw(t, bob, readTimeout)); got != `{"type":"publication","channel":"chat:a","data":{"text": "hi"}}` {
		t.Fatalf("bob got %s", got)
	}
	send(t, alice, map[string]any{"type": "publish", "channel": "open:x", "data": 2})
	if got := readMessage(t, bob, readTimeout); got["channel"] != "open:x" || got["data"] != float64(2) {
		t.Fatalf("bob got %v", got)
	}
	expectNothingPending(t, alice) // no ack without an id, and not its own publications
	send(t, alice, map[string]any{"type": "publish", "channel": "echo:e", "data": 3})
	for name, conn := range map[string]*websocket.Conn{"alice": alice, "bob": bob} {
		if got := readMessage(t, conn, readTimeout); got["type"] != "publication" || got["channel"] != "echo:e" {
			t.Fatalf("%s got %v, want the publication (publisher_receives)", name, got)
		}
	}
	if stats := n.Publisher.ChannelStats(); stats.PublicationsFromClients != 3 {
		t.Fatalf("publications from clients %d, want 3", stats.PublicationsFromClients)
	}
}

// subscriptionToken mints a subscription token jwtNode accepts.
func subscriptionToken(t *testing.T, subject, channel string, lifetime time.Duration) string {
	t.Helper()
	tokenClaims := claims(subject, lifetime)
	tokenClaims["channel"] = channel
	return mint(t, jwt.SigningMethodHS256, []byte(testJWTSecret), tokenClaims)
}

// grantedToken mints a connection token for subject with a wsgate claim.
func grantedToken(t *testing.T, subject string, grants map[string]any) string {
	t.Helper()
	tokenClaims := claims(subject, time.Hour)
	tokenClaims["wsgate"] = grants
	return mint(t, jwt.SigningMethodHS256, []byte(testJWTSecret), tokenClaims)
}

// TestPermissionMatrixUnderJWT: default deny; the claim's patterns; a namespace
// open to authenticated connections; personal channels; subscription tokens valid,
// expired, for another channel and for another user.
func TestPermissionMatrixUnderJWT(t *testing.T) {
	n := startNode(t, gateway.Config{
		JWT:    auth.Config{Secret: []byte(testJWTSecret), Audience: "wsgate", Issuer: "backend"},
		APIKey: testAPIKey,
		Namespaces: []channels.NamespaceOptions{
			{Name: "public", Subscribe: channels.SubscribeAuthenticated},
			{Name: "inbox", Personal: true},
		},
	})
	alice := n.dialToken(grantedToken(t, "alice", map[string]any{"subscribe": []string{"news", "chat:*"}}))
	plain := n.dialToken(validToken(t, "carol"))
	for _, test := range []struct {
		conn    *websocket.Conn
		channel string
		token   string
		code    string // "" for allowed
	}{
		{plain, "news", "", "permission_denied"},
		{alice, "news", "", ""},
		{alice, "chat:room", "", ""},
		{alice, "chatter", "", "permission_denied"},
		{plain, "public:lobby", "", ""},
		{plain, "inbox:carol", "", ""},
		{plain, "inbox:alice", "", "permission_denied"},
		{plain, "inbox:#alice,carol", "", ""},
		{plain, "vip:1", subscriptionToken(t, "carol", "vip:1", time.Hour), ""},
		{plain, "vip:2", subscriptionToken(t, "carol", "vip:2", -time.Minute), "permission_denied"},
		{plain, "vip:3", subscriptionToken(t, "carol", "vip:other", time.Hour), "permission_denied"},
		{plain, "vip:4", subscriptionToken(t, "alice", "vip:4", time.Hour), "permission_denied"},
		{plain, "vip:5", "not-a-token", "permission_denied"},
	} {
		fields := map[string]any{"type": "subscribe", "channel": test.channel, "id": test.channel}
		if test.token != "" {
			fields["token"] = test.token
		}
		got := request(t, test.conn, fields)
		if test.code == "" {
			if got["type"] != "subscribed" || got["channel"] != test.channel {
				t.Errorf("%s: got %v, want subscribed", test.channel, got)
			}
			continue
		}
		if got["type"] != "error" || got["code"] != test.code || got["channel"] != test.channel || got["id"] != test.channel {
			t.Errorf("%s: got %v, want %s", test.channel, got, test.code)
		}
	}
}

// TestTokenClaimSubscribesOnConnectAndGrantsBroadcast: the claim's channels are
// subscribed as the connection opens; the seed broadcast needs the grant under JWT.
func TestTokenClaimSubscribesOnConnectAndGrantsBroadcast(t *testing.T) {
	n := jwtNode(t)
	granted := n.dialToken(grantedToken(t, "alice", map[string]any{"channels": []string{"user:alice", "bad name"}, "broadcast": true}))
	if got := readMessage(t, granted, readTimeout); got["type"] != "subscribed" || got["channel"] != "user:alice" || got["id"] != nil {
		t.Fatalf("got %v, want subscribed to the claim's channel", got)
	}
	expectRefusal(t, readMessage(t, granted, readTimeout), "invalid_channel", "bad name", nil)
	// The claim's channel is not among the subscribe patterns (there are none): the
	// client's own subscribe finds the subscription, and after an unsubscribe the
	// rules decide again.
	expectRefusal(t, request(t, granted, map[string]any{"type": "subscribe", "channel": "user:alice", "id": 1}), "already_subscribed", "user:alice", float64(1))
	if got := request(t, granted, map[string]any{"type": "unsubscribe", "channel": "user:alice"}); got["type"] != "unsubscribed" {
		t.Fatalf("got %v, want unsubscribed", got)
	}
	expectRefusal(t, request(t, granted, map[string]any{"type": "subscribe", "channel": "user:alice"}), "permission_denied", "user:alice", nil)
	plain := n.dialToken(validToken(t, "bob"))
	welcome(t, plain)
	send(t, plain, map[string]any{"type": "broadcast", "content": "everyone"})
	if got := readMessage(t, plain, readTimeout); got["type"] != "error" || got["code"] != "permission_denied" || got["channel"] != nil {
		t.Fatalf("got %v, want permission_denied for the broadcast", got)
	}
	send(t, granted, map[string]any{"type": "broadcast", "content": "from alice"})
	if got := readMessage(t, plain, readTimeout); got["type"] != "broadcast" || got["content"] != "from alice" {
		t.Fatalf("got %v, want alice's broadcast", got)
	}
	if stats := n.Publisher.ChannelStats(); stats.BroadcastRefusals != 1 {
		t.Fatalf("broadcast refusals %d, want 1", stats.BroadcastRefusals)
	}
	everyone := startNode(t, gateway.Config{JWT: auth.Config{Secret: []byte(testJWTSecret)}, EveryClientMayBroadcast: true})
	sender, receiver := everyone.dialToken(validToken(t, "bob")), everyone.dialToken(validToken(t, "carol"))
	welcome(t, receiver)
	send(t, sender, map[string]any{"type": "broadcast", "content": "allowed"})
	if got := readMessage(t, receiver, readTimeout); got["content"] != "allowed" {
		t.Fatalf("got %v, want the broadcast the operator allows", got)
	}
}

// TestDisconnectRemovesEverySubscription: the channel counts go back to zero.
func TestDisconnectRemovesEverySubscription(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true})
	conn, stays := n.dial("alice"), n.dial("bob")
	for _, channel := range []string{"a", "b", "c", "d", "e"} {
		subscribeTo(t, conn, channel)
	}
	subscribeTo(t, stays, "a")
	var listing struct {
		Channels []struct {
			Channel     string `json:"channel"`
			Subscribers int    `json:"subscribers"`
		} `json:"channels"`
	}
	if getJSON(t, n.httpURL("/api/v1/channels"), &listing); len(listing.Channels) != 5 || listing.Channels[0].Channel != "a" ||
		listing.Channels[0].Subscribers != 2 {
		t.Fatalf("listing %+v, want 5 channels, a first with 2", listing)
	}
	_ = conn.Close()
	waitFor(t, 5*time.Second, "the closed connection's subscriptions gone", func() bool {
		return n.Publisher.ChannelStats().Subscriptions == 1
	})
	if getJSON(t, n.httpURL("/api/v1/channels"), &listing); len(listing.Channels) != 1 || listing.Channels[0].Subscribers != 1 {
		t.Fatalf("listing %+v, want a with bob alone", listing)
	}
	var counts map[string]any
	getJSON(t, n.httpURL("/api/v1/channels/b"), &counts)
	if counts["subscribers"] != float64(0) || counts["users"] != float64(0) {
		t.Fatalf("channel b: %v, want zero", counts)
	}
}

// TestTenThousandSubscribeCyclesLeaveNothing: subscribe and unsubscribe, pipelined,
// over a hundred channels; the index is empty afterwards.
func TestTenThousandSubscribeCyclesLeaveNothing(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true,
		Session: session.Config{MaxMessagesPerSecond: session.Unlimited, MaxPendingBytes: 64 << 20}})
	conn := n.dial("alice")
	const cycles = 10000
	written := make(chan error, 1)
	go func() {
		for cycle := range cycles {
			channel := "cycle:" + string(rune('a'+cycle%100/10)) + string(rune('a'+cycle%10))
			for _, kind := range []string{"subscribe", "unsubscribe"} {
				if err := conn.WriteJSON(map[string]any{"type": kind, "channel": channel}); err != nil {
					written <- err
					return
				}
			}
		}
		written <- nil
	}()
	for answer := range 2 * cycles {
		got := readMessage(t, conn, readTimeout)
		if want := []string{"subscribed", "unsubscribed"}[answer%2]; got["type"] != want {
			t.Fatalf("answer %d: got %v, want %s", answer, got, want)
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if stats := n.Publisher.ChannelStats(); stats.Channels != 0 || stats.Subscriptions != 0 {
		t.Fatalf("after %d cycles: %d channels, %d subscriptions; want none", cycles, stats.Channels, stats.Subscriptions)
	}
	if top, truncated := n.Publisher.TopChannels("", 10); len(top) != 0 || truncated {
		t.Fatalf("listing %v, want empty", top)
	}
}

// TestSubscribesCountAgainstTheInboundRateLimit: subscribes sent in one burst take
// tokens of the connection's inbound rate limit like any message; those over it get
// rate_limited and subscribe nothing.
func TestSubscribesCountAgainstTheInboundRateLimit(t *testing.T) {
	const burst, sent = 5, 12
	// Seven dropped messages stay under the flooding threshold (more dropped in a
	// second than the rate, 10), so the connection is not closed.
	n := startNode(t, gateway.Config{Session: session.Config{MaxMessagesPerSecond: 10, MessageBurst: burst}})
	conn := n.dial("")
	for position := range sent {
		send(t, conn, map[string]any{"type": "subscribe", "channel": "burst:" + string(rune('a'+position))})
	}
	subscribed, limited := 0, 0
	for range sent {
		switch got := readMessage(t, conn, readTimeout); {
		case got["type"] == "subscribed":
			subscribed++
		case got["type"] == "error" && got["code"] == "rate_limited":
			limited++
		default:
			t.Fatalf("got %v, want subscribed or a rate_limited error", got)
		}
	}
	// The bucket refills at 10 a second while the subscribes arrive, so a slow run
	// may admit a few more than the burst, but not all of them.
	if subscribed < burst || limited == 0 || limited != sent-subscribed {
		t.Fatalf("%d subscribed and %d rate limited of %d subscribes, want %d (or a few more) subscribed", subscribed, limited, sent, burst)
	}
	if stats := n.Publisher.ChannelStats(); stats.Subscriptions != subscribed {
		t.Fatalf("the index holds %d subscriptions, want the %d confirmed", stats.Subscriptions, subscribed)
	}
}
