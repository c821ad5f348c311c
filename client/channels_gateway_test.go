package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
)

// Channels against a real node: subscribe, backend publications, unsubscribe and
// nothing after; permissions from the token's grants and from subscription tokens;
// the server's own subscriptions; client publish; a new node on the same address
// during a subscription.

// channelsSecret signs the tokens of the JWT nodes of these tests.
const channelsSecret = "client-channel-tests-0123456789abcdef"

// startChannelNode starts a node on address ("127.0.0.1:0" for a free port) that
// trusts ?user_id=, or with jwt requires tokens signed with channelsSecret.
func startChannelNode(t *testing.T, address string, jwt bool) *gateway.Gateway {
	t.Helper()
	config := gateway.Config{InsecureUserID: !jwt}
	if jwt {
		config.JWT = auth.Config{Secret: []byte(channelsSecret)}
	}
	config.Engine.Addr = address
	return testnode.Start(t, config)
}

// channelToken returns an HS256 token for user signed with channelsSecret, valid for
// ten minutes, with extra claims ("wsgate" grants, or "channel" for a subscription
// token).
func channelToken(t *testing.T, user string, extra jwt.MapClaims) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(10 * time.Minute).Unix()}
	for key, value := range extra {
		claims[key] = value
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(channelsSecret))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return token
}

// callAPI calls the HTTP API of the node at address and returns the status and the
// decoded answer.
func callAPI(t *testing.T, address, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var reader *bytes.Reader
	if body != nil {
		encoded, _ := json.Marshal(body)
		reader = bytes.NewReader(encoded)
	} else {
		reader = bytes.NewReader(nil)
	}
	request, _ := http.NewRequest(method, "http://"+address+path, reader)
	request.Header.Set("Content-Type", "application/json")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	var answer map[string]any
	_ = json.NewDecoder(response.Body).Decode(&answer)
	return response.StatusCode, answer
}

// backendPublish publishes data to channel through the API and returns how many local
// subscribers it was queued to.
func backendPublish(t *testing.T, address, channel string, data any) int {
	t.Helper()
	status, answer := callAPI(t, address, http.MethodPost, "/api/v1/channels/"+url.PathEscape(channel)+"/publish", map[string]any{"data": data})
	queued, ok := answer["queued"].(float64)
	if status/100 != 2 || !ok {
		t.Fatalf("publish to %s: %d %v", channel, status, answer)
	}
	return int(queued)
}

func TestGatewaySubscribeReceiveUnsubscribeAndNothingAfter(t *testing.T) {
	node := startChannelNode(t, "127.0.0.1:0", false)
	address := node.Addr().String()
	var running atomic.Int32
	caught := newChannelLog(t, &running)
	c := startClient(t, caught.wire(fastOptions(testsupport.WebSocketURL(address, testsupport.UserQuery("ann")))))
	news, sport := newChannelLog(t, &running), newChannelLog(t, &running)
	newsSubscription := mustSubscribe(t, c, "news", news, nil)
	mustSubscribe(t, c, "sport", sport, nil)
	waitFor(t, 5*time.Second, "both subscribed", func() bool { return news.count("subscribed") == 1 && sport.count("subscribed") == 1 })
	if queued := backendPublish(t, address, "news", map[string]int{"headline": 1}); queued != 1 {
		t.Fatalf("queued %d, want 1", queued)
	}
	waitFor(t, 5*time.Second, "the news publication", func() bool { return len(news.data()) == 1 })
	if got := news.data(); got[0] != `{"headline":1}` || len(sport.data()) != 0 {
		t.Fatalf("news %v, sport %v", got, sport.data())
	}

	newsSubscription.Unsubscribe()
	waitFor(t, 5*time.Second, "no subscriber of news left", func() bool {
		status, answer := callAPI(t, address, http.MethodGet, "/api/v1/channels/news", nil)
		return status == http.StatusNotFound || answer["subscribers"] == float64(0)
	})
	if queued := backendPublish(t, address, "news", 2); queued != 0 {
		t.Fatalf("queued %d after unsubscribe, want 0", queued)
	}
	backendPublish(t, address, "sport", "goal")
	waitFor(t, 5*time.Second, "the sport publication", func() bool { return len(sport.data()) == 1 })
	if len(news.data()) != 1 || len(caught.data()) != 0 || c.messageCount() != 0 {
		t.Fatalf("after unsubscribe: news %v, OnPublication %v, %d messages", news.data(), caught.data(), c.messageCount())
	}
}

func TestGatewayRefusedPublishComesWithItsID(t *testing.T) {
	node := startChannelNode(t, "127.0.0.1:0", false)
	c := startClient(t, fastOptions(testsupport.WebSocketURL(node.Addr().String(), testsupport.UserQuery("ann"))))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Publish(ctx, "news", "not for clients"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitFor(t, 5*time.Second, "the refusal", func() bool { return c.count("error") == 1 })
	var refusal *client.ChannelError
	if !errors.As(c.of("error")[0].err, &refusal) || refusal.Code != client.ChannelPublishNotAllowed || refusal.Channel != "news" || len(refusal.ID) == 0 {
		t.Fatalf("OnError got %v, want publish_not_allowed for news with an id", c.of("error")[0].err)
	}
	if c.State() != client.StateOpen {
		t.Fatalf("state %v after a refused publish", c.State())
	}
}

func TestGatewayPermissionsFromGrantsAndSubscriptionTokens(t *testing.T) {
	node := startChannelNode(t, "127.0.0.1:0", true)
	address := node.Addr().String()
	endpoint := testsupport.WebSocketURL(address, nil)
	var running atomic.Int32
	caught := newChannelLog(t, &running)
	adaOptions := caught.wire(fastOptions(endpoint))
	adaOptions.Token = func(context.Context) (string, error) {
		grants := map[string]any{"subscribe": []string{"chat:*"}, "publish": []string{"chat:*"}, "channels": []string{"user:ada"}}
		return channelToken(t, "ada", jwt.MapClaims{"wsgate": grants}), nil
	}
	ada := startClient(t, adaOptions)
	bobOptions := fastOptions(endpoint)
	bobOptions.Token = func(context.Context) (string, error) {
		return channelToken(t, "bob", jwt.MapClaims{"wsgate": map[string]any{"subscribe": []string{"chat:*"}}}), nil
	}
	bob := startClient(t, bobOptions)
	waitFor(t, 5*time.Second, "the server subscribes ada to user:ada", func() bool { return caught.count("subscribed") == 1 })
	if channel := caught.of("subscribed")[0].channel; channel != "user:ada" {
		t.Fatalf("the server subscribed ada to %q", channel)
	}

	room, private, forbidden, stolen := newChannelLog(t, &running), newChannelLog(t, &running),
		newChannelLog(t, &running), newChannelLog(t, &running)
	// bob is another Client: its callbacks may run while ada's do.
	var bobRunning atomic.Int32
	listener := newChannelLog(t, &bobRunning)
	mustSubscribe(t, ada, "chat:room", room, nil)
	privateSubscription := mustSubscribe(t, ada, "private:1", private, func(_ context.Context, channel string) (string, error) {
		return channelToken(t, "ada", jwt.MapClaims{"channel": channel}), nil
	})
	forbiddenSubscription := mustSubscribe(t, ada, "private:2", forbidden, nil)
	stolenSubscription := mustSubscribe(t, ada, "private:3", stolen, func(context.Context, string) (string, error) {
		return channelToken(t, "ada", jwt.MapClaims{"channel": "private:1"}), nil
	})
	mustSubscribe(t, bob, "chat:room", listener, nil)
	waitFor(t, 5*time.Second, "the allowed subscriptions", func() bool {
		return room.count("subscribed") == 1 && private.count("subscribed") == 1 && listener.count("subscribed") == 1
	})
	waitFor(t, 5*time.Second, "the refused subscriptions", func() bool {
		return forbiddenSubscription.State() == client.SubscriptionFailed && stolenSubscription.State() == client.SubscriptionFailed
	})
	for _, log := range []*channelLog{forbidden, stolen} {
		var refusal *client.ChannelError
		if errs := log.of("error"); len(errs) != 1 || !errors.As(errs[0].err, &refusal) || refusal.Code != client.ChannelPermissionDenied {
			t.Fatalf("errors %v, want one permission_denied", errs)
		}
	}

	backendPublish(t, address, "user:ada", "personal")
	waitFor(t, 5*time.Second, "the publication of the server's subscription", func() bool { return len(caught.data()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ada.Publish(ctx, "chat:room", map[string]string{"text": "hi bob"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitFor(t, 5*time.Second, "ada's publication at bob", func() bool { return len(listener.data()) == 1 })
	if got := listener.data(); got[0] != `{"text":"hi bob"}` {
		t.Fatalf("bob got %v", got)
	}

	status, answer := callAPI(t, address, http.MethodPost, "/api/v1/users/ada/unsubscribe", map[string]string{"channel": "private:1"})
	if status/100 != 2 {
		t.Fatalf("unsubscribe by user: %d %v", status, answer)
	}
	waitFor(t, 5*time.Second, "the backend's unsubscribe", func() bool { return privateSubscription.State() == client.SubscriptionUnsubscribed })
	if got := private.of("unsubscribed"); len(got) != 1 || got[0].reason == "" {
		t.Fatalf("OnUnsubscribed %+v, want one with a reason", got)
	}
	if ada.count("error") != 0 {
		t.Fatalf("client errors %v", ada.of("error"))
	}
}

func TestGatewayNewNodeOnTheSameAddressDuringASubscription(t *testing.T) {
	node := startChannelNode(t, "127.0.0.1:0", true)
	address := node.Addr().String()
	options := fastOptions(testsupport.WebSocketURL(address, nil))
	options.Token = func(context.Context) (string, error) { return channelToken(t, "ada", nil), nil }
	c := startClient(t, options)
	var running atomic.Int32
	var minted atomic.Int32
	news := newChannelLog(t, &running)
	mustSubscribe(t, c, "private:news", news, func(_ context.Context, channel string) (string, error) {
		minted.Add(1)
		return channelToken(t, "ada", jwt.MapClaims{"channel": channel}), nil
	})
	for round := 1; round <= 3; round++ {
		waitFor(t, 10*time.Second, fmt.Sprintf("subscribed to node %d", round), func() bool { return news.count("subscribed") == round })
		if queued := backendPublish(t, node.Addr().String(), "private:news", round); queued != 1 {
			t.Fatalf("node %d queued %d, want 1", round, queued)
		}
		waitFor(t, 5*time.Second, fmt.Sprintf("publication %d", round), func() bool { return len(news.data()) == round })
		if round < 3 {
			node.Shutdown(5 * time.Second)
			node = startChannelNode(t, address, true)
		}
	}
	if got := news.data(); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("publications %v", got)
	}
	if minted.Load() != 3 {
		t.Fatalf("%d subscription tokens, want a fresh one per node", minted.Load())
	}
	if closes := c.of("close"); len(closes) < 2 || closes[0].close.Code != client.CodeGoingAway {
		t.Fatalf("closes %+v, want 1001 first", closes)
	}
	if news.count("error") != 0 {
		t.Fatalf("errors %v", news.of("error"))
	}
}

// TestGatewaySubscribingToATokenChannelCountsAsSubscribed: the token's channels
// claim lists a channel its subscribe patterns do not cover; the server subscribes
// the connection as it connects, and the application's own Subscribe to it is
// subscribed (the server answers already_subscribed) and receives its publications.
func TestGatewaySubscribingToATokenChannelCountsAsSubscribed(t *testing.T) {
	node := startChannelNode(t, "127.0.0.1:0", true)
	address := node.Addr().String()
	var running atomic.Int32
	caught := newChannelLog(t, &running)
	options := caught.wire(fastOptions(testsupport.WebSocketURL(address, nil)))
	options.Token = func(context.Context) (string, error) {
		grants := map[string]any{"subscribe": []string{"chat:*"}, "channels": []string{"user:ada"}}
		return channelToken(t, "ada", jwt.MapClaims{"wsgate": grants}), nil
	}
	ada := startClient(t, options)
	waitFor(t, 5*time.Second, "the server subscribes ada to user:ada", func() bool { return caught.count("subscribed") == 1 })
	mine := newChannelLog(t, &running)
	subscription := mustSubscribe(t, ada, "user:ada", mine, nil)
	backendPublish(t, address, "user:ada", "personal")
	waitFor(t, 5*time.Second, "the publication at the subscription", func() bool { return len(mine.data()) == 1 })
	if state := subscription.State(); state != client.SubscriptionSubscribed || mine.count("error") != 0 {
		t.Fatalf("subscription %v with errors %+v, want subscribed without error", state, mine.of("error"))
	}
}
