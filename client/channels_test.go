package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/protocol"
)

// channelEvent is one callback of channels a channelLog saw.
type channelEvent struct {
	kind    string // "subscribed", "unsubscribed", "recovery", "error" or "publication"
	channel string
	reason  string
	data    string
	offset  uint64
	err     error
	// recovery is the detail of a "recovery" event.
	recovery client.Recovery
}

// channelLog records the callbacks of channels: of one subscription, or the
// Client-wide ones. It fails the test if two callbacks ever run at once. Its methods
// are safe for concurrent use.
type channelLog struct {
	t *testing.T
	// running counts callbacks running at this moment, across every log of a test.
	running *atomic.Int32
	mutex   sync.Mutex
	events  []channelEvent
}

func newChannelLog(t *testing.T, running *atomic.Int32) *channelLog {
	return &channelLog{t: t, running: running}
}

func (l *channelLog) add(e channelEvent) {
	if l.running.Add(1) != 1 {
		l.t.Errorf("two callbacks ran at once (%s)", e.kind)
	}
	defer l.running.Add(-1)
	l.mutex.Lock()
	defer l.mutex.Unlock()
	l.events = append(l.events, e)
}

// handler records publications.
func (l *channelLog) handler(p client.Publication) {
	l.add(channelEvent{kind: "publication", channel: p.Channel, data: string(p.Data), offset: p.Offset})
}

// subscribeOptions records a subscription's callbacks, with token as its source.
func (l *channelLog) subscribeOptions(token func(context.Context, string) (string, error)) client.SubscribeOptions {
	return client.SubscribeOptions{
		Token: token,
		OnSubscribed: func(s client.Subscribed) {
			l.add(channelEvent{kind: "subscribed", channel: s.Channel, data: string(s.Raw)})
		},
		OnUnsubscribed: func(u client.Unsubscribed) {
			l.add(channelEvent{kind: "unsubscribed", channel: u.Channel, reason: u.Reason})
		},
		OnRecovery: func(r client.Recovery) { l.add(channelEvent{kind: "recovery", channel: r.Channel, recovery: r}) },
		OnError:    func(err error) { l.add(channelEvent{kind: "error", err: err}) },
	}
}

// wire sets the Client-wide callbacks of channels in options to record into l.
func (l *channelLog) wire(options client.Options) client.Options {
	options.OnSubscribed = func(s client.Subscribed) {
		l.add(channelEvent{kind: "subscribed", channel: s.Channel, data: string(s.Raw)})
	}
	options.OnUnsubscribed = func(u client.Unsubscribed) {
		l.add(channelEvent{kind: "unsubscribed", channel: u.Channel, reason: u.Reason})
	}
	options.OnPublication = l.handler
	return options
}

// of returns the events of kind, in order.
func (l *channelLog) of(kind string) []channelEvent {
	l.mutex.Lock()
	defer l.mutex.Unlock()
	var matching []channelEvent
	for _, e := range l.events {
		if e.kind == kind {
			matching = append(matching, e)
		}
	}
	return matching
}

// count returns how many events of kind arrived.
func (l *channelLog) count(kind string) int { return len(l.of(kind)) }

// data returns the data of every publication, in order.
func (l *channelLog) data() []string {
	var data []string
	for _, e := range l.of("publication") {
		data = append(data, e.data)
	}
	return data
}

// channelOptions are options with short delays for the channel server.
func channelOptions(address string) client.Options {
	options := fastOptions(address)
	options.BaseDelay = 20 * time.Millisecond
	options.MaxDelay = 100 * time.Millisecond
	options.GoingAwayDelay = 20 * time.Millisecond
	return options
}

// mustSubscribe subscribes c to channel with log's handler and callbacks.
func mustSubscribe(t *testing.T, c *running, channel string, log *channelLog, token func(context.Context, string) (string, error)) *client.Subscription {
	t.Helper()
	subscription, err := c.Subscribe(channel, log.handler, log.subscribeOptions(token))
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", channel, err)
	}
	return subscription
}

// subscribeLogged subscribes c to channel with a new log (counting its own
// callbacks) and waits for the subscribed answer.
func subscribeLogged(t *testing.T, c *running, channel string) (*channelLog, *client.Subscription) {
	t.Helper()
	var callbacks atomic.Int32
	log := newChannelLog(t, &callbacks)
	subscription := mustSubscribe(t, c, channel, log, nil)
	waitFor(t, 5*time.Second, "subscribed to "+channel, func() bool { return log.count("subscribed") == 1 })
	return log, subscription
}

// idOf returns a request's id as JSON text.
func idOf(r request) string { return fmt.Sprint(r.message["id"]) }

func TestSubscribeReceiveUnsubscribeAndNothingAfter(t *testing.T) {
	// A publication the server sends before it carries out an unsubscribe belongs to
	// neither the ended subscription nor a new one made right after.
	server := startChannelServer(t, channelServerConfig{beforeUnsubscribe: func(server *channelServer, connection *fakeConnection, channel string) {
		server.send(connection, map[string]any{"type": "publication", "channel": channel, "data": "in flight"})
	}})
	var running atomic.Int32
	caught := newChannelLog(t, &running)
	c := startClient(t, caught.wire(channelOptions(server.url())))
	news, sport := newChannelLog(t, &running), newChannelLog(t, &running)
	newsSubscription := mustSubscribe(t, c, "news", news, nil)
	mustSubscribe(t, c, "sport", sport, nil)
	if newsSubscription.Channel() != "news" {
		t.Fatalf("Channel() = %q", newsSubscription.Channel())
	}
	waitFor(t, 5*time.Second, "both subscribed", func() bool { return news.count("subscribed") == 1 && sport.count("subscribed") == 1 })
	if state := newsSubscription.State(); state != client.SubscriptionSubscribed {
		t.Fatalf("state %v, want subscribed", state)
	}
	if server.publish("news", map[string]int{"headline": 1}) != 1 || server.publish("sport", "goal") != 1 {
		t.Fatal("the server has no subscriber")
	}
	waitFor(t, 5*time.Second, "one publication each", func() bool { return len(news.data()) == 1 && len(sport.data()) == 1 })
	if got := news.data(); !slices.Equal(got, []string{`{"headline":1}`}) {
		t.Fatalf("news got %v", got)
	}
	if got := sport.data(); !slices.Equal(got, []string{`"goal"`}) {
		t.Fatalf("sport got %v", got)
	}

	newsSubscription.Unsubscribe()
	if state := newsSubscription.State(); state != client.SubscriptionUnsubscribed {
		t.Fatalf("state %v after Unsubscribe, want unsubscribed", state)
	}
	again := newChannelLog(t, &running)
	mustSubscribe(t, c, "news", again, nil)
	waitFor(t, 5*time.Second, "subscribed again", func() bool { return again.count("subscribed") == 1 })
	unsubscribes := server.requests("unsubscribe")
	if len(unsubscribes) != 1 || unsubscribes[0].message["channel"] != "news" || idOf(unsubscribes[0]) == "<nil>" {
		t.Fatalf("unsubscribe requests %v, want one for news with an id", unsubscribes)
	}
	server.publish("news", 2)
	server.publish("sport", "second goal")
	waitFor(t, 5*time.Second, "the next publications", func() bool { return len(sport.data()) == 2 && len(again.data()) == 1 })
	if got := again.data(); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("the new subscription got %v, want [2]", got)
	}
	if got := news.data(); len(got) != 1 {
		t.Fatalf("the ended subscription got %v after Unsubscribe", got)
	}
	if got := caught.data(); len(got) != 0 {
		t.Fatalf("OnPublication got %v", got)
	}
	if n := c.messageCount(); n != 0 {
		t.Fatalf("%d channel messages reached OnMessage", n)
	}
	if _, err := c.Subscribe("sport", func(client.Publication) {}); !errors.Is(err, client.ErrAlreadySubscribed) {
		t.Fatalf("second Subscribe to sport: %v, want ErrAlreadySubscribed", err)
	}
	if news.count("unsubscribed") != 0 {
		t.Fatal("OnUnsubscribed was called after Unsubscribe")
	}
}

func TestEveryReconnectSubscribesAgainWithAFreshToken(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{subscribe: func(channel, token string) string {
		if strings.HasPrefix(token, channel+"-") {
			return ""
		}
		return "permission_denied"
	}})
	var running atomic.Int32
	// The subscription's state as each connection closed, read in OnClose: the client
	// reconnects 20 ms later, so a test polling for the close could find it
	// subscribed again already.
	var subscription atomic.Pointer[client.Subscription]
	var statesAtClose sync.Map // round -> client.SubscriptionState
	var closes atomic.Int32
	options := channelOptions(server.url())
	options.OnClose = func(client.CloseEvent) {
		round := int(closes.Add(1))
		if s := subscription.Load(); s != nil {
			statesAtClose.Store(round, s.State())
		}
	}
	c := startClient(t, options)
	var minted atomic.Int32
	news := newChannelLog(t, &running)
	subscription.Store(mustSubscribe(t, c, "news", news, func(_ context.Context, channel string) (string, error) {
		return fmt.Sprintf("%s-%d", channel, minted.Add(1)), nil
	}))
	for round, code := range []int{client.CodeGoingAway, client.CodeHeartbeatTimeout, 0} {
		waitFor(t, 5*time.Second, fmt.Sprintf("subscribed on connection %d", round+1), func() bool { return news.count("subscribed") == round+1 })
		server.publish("news", round+1)
		waitFor(t, 5*time.Second, fmt.Sprintf("publication %d", round+1), func() bool { return len(news.data()) == round+1 })
		if code != 0 {
			server.closeAll(code, "bye")
			waitFor(t, 5*time.Second, "the close", func() bool { return c.count("close") == round+1 })
			if state, _ := statesAtClose.Load(round + 1); state != client.SubscriptionSubscribing {
				t.Fatalf("state %v as the connection closed, want subscribing", state)
			}
		}
	}
	var tokens []string
	for _, r := range server.requests("subscribe") {
		tokens = append(tokens, fmt.Sprintf("%d:%v", r.connection, r.message["token"]))
	}
	if !slices.Equal(tokens, []string{"0:news-1", "1:news-2", "2:news-3"}) {
		t.Fatalf("subscribes %v, want one per connection with a fresh token", tokens)
	}
	if got := news.data(); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("publications %v", got)
	}
	if news.count("error") != 0 {
		t.Fatalf("errors %v", news.of("error"))
	}
}

func TestOptionsSubscriptionTokenServesSubscriptionsAndAFailingSourceIsRetried(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{subscribe: func(channel, token string) string {
		if token == "for "+channel {
			return ""
		}
		return "permission_denied"
	}})
	var failures atomic.Int32
	failures.Store(1)
	options := channelOptions(server.url())
	options.SubscriptionToken = func(ctx context.Context, channel string) (string, error) {
		if failures.Add(-1) >= 0 {
			return "", errors.New("token endpoint down")
		}
		return "for " + channel, nil
	}
	c := startClient(t, options)
	var running atomic.Int32
	news := newChannelLog(t, &running)
	mustSubscribe(t, c, "news", news, nil)
	waitFor(t, 5*time.Second, "subscribed after the token source recovered", func() bool { return news.count("subscribed") == 1 })
	if errs := news.of("error"); len(errs) != 1 || errs[0].err.Error() != "token endpoint down" {
		t.Fatalf("errors %v, want the token source's", errs)
	}
	if subscribes := server.requests("subscribe"); len(subscribes) != 1 || subscribes[0].message["token"] != "for news" {
		t.Fatalf("subscribes %v", subscribes)
	}
}

func TestRefusedSubscriptionFailsAloneAndIsNotRenewed(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{subscribe: func(channel, _ string) string {
		if channel == "secret" {
			return "permission_denied"
		}
		return ""
	}})
	c := startClient(t, channelOptions(server.url()))
	var running atomic.Int32
	secretLog, news := newChannelLog(t, &running), newChannelLog(t, &running)
	secret := mustSubscribe(t, c, "secret", secretLog, nil)
	mustSubscribe(t, c, "news", news, nil)
	waitFor(t, 5*time.Second, "one failed, one subscribed", func() bool {
		return secret.State() == client.SubscriptionFailed && news.count("subscribed") == 1
	})
	errs := secretLog.of("error")
	var refusal *client.ChannelError
	if len(errs) != 1 || !errors.As(errs[0].err, &refusal) {
		t.Fatalf("errors %v, want one *ChannelError", errs)
	}
	// The subscriptions made before the connection opened go out in no set order.
	subscribes := server.requests("subscribe")
	secretAt := slices.IndexFunc(subscribes, func(r request) bool { return r.message["channel"] == "secret" })
	if secretAt < 0 {
		t.Fatalf("subscribes %v, none for secret", subscribes)
	}
	secretRequest := subscribes[secretAt]
	if refusal.Code != client.ChannelPermissionDenied || refusal.Channel != "secret" || refusal.Temporary() || string(refusal.ID) != idOf(secretRequest) {
		t.Fatalf("refusal %+v, want permission_denied for secret with id %s", refusal, idOf(secretRequest))
	}
	if c.State() != client.StateOpen || c.count("error") != 0 {
		t.Fatalf("client state %v, errors %v", c.State(), c.of("error"))
	}

	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "news subscribed again", func() bool { return news.count("subscribed") == 2 })
	var renewed []any
	for _, r := range server.requests("subscribe") {
		if r.connection == 1 {
			renewed = append(renewed, r.message["channel"])
		}
	}
	if !slices.Equal(renewed, []any{"news"}) {
		t.Fatalf("subscribes on the second connection %v, want news only", renewed)
	}
}

func TestTemporaryRefusalsAreRetriedWithBackoff(t *testing.T) {
	var mutex sync.Mutex
	refusals := []string{"rate_limited", "too_many_subscribers"}
	server := startChannelServer(t, channelServerConfig{subscribe: func(string, string) string {
		mutex.Lock()
		defer mutex.Unlock()
		if len(refusals) == 0 {
			return ""
		}
		code := refusals[0]
		refusals = refusals[1:]
		return code
	}})
	c := startClient(t, channelOptions(server.url()))
	var running atomic.Int32
	news := newChannelLog(t, &running)
	subscription := mustSubscribe(t, c, "news", news, nil)
	waitFor(t, 5*time.Second, "subscribed after two refusals", func() bool { return subscription.State() == client.SubscriptionSubscribed })
	var codes []string
	for _, e := range news.of("error") {
		var refusal *client.ChannelError
		if !errors.As(e.err, &refusal) || !refusal.Temporary() {
			t.Fatalf("error %v, want a temporary *ChannelError", e.err)
		}
		codes = append(codes, refusal.Code)
	}
	if !slices.Equal(codes, []string{"rate_limited", "too_many_subscribers"}) {
		t.Fatalf("refusals %v", codes)
	}
	if n := len(server.requests("subscribe")); n != 3 {
		t.Fatalf("%d subscribes, want 3", n)
	}
	if news.count("subscribed") != 1 {
		t.Fatalf("%d OnSubscribed calls, want 1", news.count("subscribed"))
	}
}

func TestServerSubscriptionsReachOnPublicationAndEndWithAReason(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{onHello: func(server *channelServer, connection *fakeConnection) {
		server.subscribe(connection, "user:42", map[string]any{"offset": 7})
	}})
	var running atomic.Int32
	caught := newChannelLog(t, &running)
	c := startClient(t, caught.wire(channelOptions(server.url())))
	news := newChannelLog(t, &running)
	subscription := mustSubscribe(t, c, "news", news, nil)
	waitFor(t, 5*time.Second, "both subscriptions", func() bool { return caught.count("subscribed") == 1 && news.count("subscribed") == 1 })
	if first := caught.of("subscribed")[0]; first.channel != "user:42" || !strings.Contains(first.data, `"offset":7`) {
		t.Fatalf("OnSubscribed %+v, want user:42 with its offset kept in Raw", first)
	}
	server.publish("user:42", map[string]string{"note": "for you"})
	server.publish("news", "headline")
	waitFor(t, 5*time.Second, "both publications", func() bool { return len(caught.data()) == 1 && len(news.data()) == 1 })
	if got := caught.of("publication")[0]; got.channel != "user:42" || got.data != `{"note":"for you"}` {
		t.Fatalf("OnPublication got %+v", got)
	}

	connection := server.latest()
	server.unsubscribe(connection, "user:42", "backend")
	server.unsubscribe(connection, "news", "kicked out")
	waitFor(t, 5*time.Second, "both removed", func() bool {
		return caught.count("unsubscribed") == 1 && subscription.State() == client.SubscriptionUnsubscribed
	})
	if got := caught.of("unsubscribed")[0]; got.channel != "user:42" || got.reason != "backend" {
		t.Fatalf("OnUnsubscribed %+v", got)
	}
	if got := news.of("unsubscribed"); len(got) != 1 || got[0].reason != "kicked out" {
		t.Fatalf("the subscription's OnUnsubscribed %+v", got)
	}

	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "the server subscribes the new connection itself", func() bool { return caught.count("subscribed") == 2 })
	if n := len(server.requests("subscribe")); n != 1 {
		t.Fatalf("%d subscribes, want 1: a removed subscription is not renewed", n)
	}
	c.Unsubscribe("user:42")
	waitFor(t, 5*time.Second, "the server's subscription ended by the client", func() bool { return !server.subscribed(server.latest(), "user:42") })
}

func TestSubscribingToAChannelTheServerSubscribedCountsAsSubscribed(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{onHello: func(server *channelServer, connection *fakeConnection) {
		server.subscribe(connection, "user:42", nil)
	}})
	var running atomic.Int32
	caught := newChannelLog(t, &running)
	c := startClient(t, caught.wire(channelOptions(server.url())))
	// The server's subscription reaches the client before the application subscribes:
	// otherwise which of the two comes first is a race, and a subscription made
	// first rightly takes the server's "subscribed" itself.
	waitFor(t, 5*time.Second, "the server's subscription", func() bool { return caught.count("subscribed") == 1 })
	mine := newChannelLog(t, &running)
	subscription := mustSubscribe(t, c, "user:42", mine, nil)
	waitFor(t, 5*time.Second, "the subscribe answered", func() bool {
		return len(server.requests("subscribe")) == 1 && subscription.State() == client.SubscriptionSubscribed
	})
	server.publish("user:42", "mine")
	waitFor(t, 5*time.Second, "the publication at the subscription", func() bool { return len(mine.data()) == 1 })
	if mine.count("subscribed") != 1 || mine.count("error") != 0 || caught.count("subscribed") != 1 {
		t.Fatalf("subscription events %+v %+v, client-wide %+v", mine.of("subscribed"), mine.of("error"), caught.of("subscribed"))
	}
}

func TestPublishReturnsOnceWrittenAndARefusalComesWithItsID(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{publish: func(channel string) string {
		if strings.HasPrefix(channel, "chat:") {
			return ""
		}
		return "publish_not_allowed"
	}})
	var running atomic.Int32
	reader := startClient(t, channelOptions(server.url()))
	room := newChannelLog(t, &running)
	mustSubscribe(t, reader, "chat:room", room, nil)
	waitFor(t, 5*time.Second, "the reader subscribed", func() bool { return room.count("subscribed") == 1 })

	c := startClient(t, channelOptions(server.url()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Publish(ctx, "chat:room", map[string]string{"text": "hi"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitFor(t, 5*time.Second, "the publication at the reader", func() bool { return len(room.data()) == 1 })
	if got := room.data(); got[0] != `{"text":"hi"}` {
		t.Fatalf("the reader got %v", got)
	}
	if err := c.Publish(ctx, "news", json.RawMessage(`"not mine to publish"`)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitFor(t, 5*time.Second, "the refusal", func() bool { return c.count("error") == 1 })
	var refusal *client.ChannelError
	if !errors.As(c.of("error")[0].err, &refusal) {
		t.Fatalf("OnError got %v, want a *ChannelError", c.of("error")[0].err)
	}
	publishes := server.requests("publish")
	if len(publishes) != 2 || refusal.Code != client.ChannelPublishNotAllowed || refusal.Channel != "news" || string(refusal.ID) != idOf(publishes[1]) {
		t.Fatalf("refusal %+v for publishes %v", refusal, publishes)
	}
	if idOf(publishes[0]) == idOf(publishes[1]) {
		t.Fatalf("two publishes with id %s", idOf(publishes[0]))
	}
	if err := c.Publish(ctx, "news", make(chan int)); err == nil {
		t.Fatal("Publish of a value JSON cannot encode succeeded")
	}
	if n := c.messageCount(); n != 0 {
		t.Fatalf("%d channel messages reached OnMessage", n)
	}
}

func TestPublishWithAcknowledgementsOfflineAndAtClose(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{publish: func(string) string { return "" }, ack: true})
	c := startClient(t, channelOptions(server.url()))
	waitFor(t, 5*time.Second, "open", func() bool { return c.count("open") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Publish(ctx, "chat:room", 1); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitFor(t, 5*time.Second, "the publish at the server", func() bool { return len(server.requests("publish")) == 1 })
	c.echo(t, "after the acknowledgement")
	if n := c.messageCount(); n != 1 {
		t.Fatalf("OnMessage got %d messages, want only the echo", n)
	}

	offline, err := client.New(channelOptions(server.url()))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	published := make(chan error, 1)
	go func() { published <- offline.Publish(ctx, "chat:room", "while offline") }()
	waitFor(t, 5*time.Second, "the publication queued", func() bool { return offline.Queued() == 1 })
	result := make(chan error, 1)
	go func() { result <- offline.Run(context.Background()) }()
	if err := <-published; err != nil {
		t.Fatalf("Publish while offline: %v", err)
	}
	_ = offline.Close()
	<-result

	stopped, err := client.New(client.Options{URL: "ws://127.0.0.1:1/api/v1/ws", BaseDelay: time.Hour})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- stopped.Publish(ctx, "chat:room", "never") }()
	waitFor(t, 5*time.Second, "the publication queued", func() bool { return stopped.Queued() == 1 })
	_ = stopped.Close()
	if err := <-closed; !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Publish during Close: %v, want ErrClosed", err)
	}
	if err := stopped.Publish(ctx, "chat:room", "after"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := stopped.Subscribe("news", func(client.Publication) {}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}

	waiting, err := client.New(client.Options{URL: "ws://127.0.0.1:1/api/v1/ws"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := waiting.Publish(short, "chat:room", "withdrawn"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish with an expired context: %v, want DeadlineExceeded", err)
	}
}

// TestChannelErrorCodesAreTheServers ties the client's names for the codes of
// refused channel requests and presence queries to the server's own constants, so
// that a renamed code fails here rather than in an application.
func TestChannelErrorCodesAreTheServers(t *testing.T) {
	for _, pair := range []struct{ client, server string }{
		{client.ChannelInvalid, channels.CodeInvalidChannel},
		{client.ChannelPermissionDenied, channels.CodePermissionDenied},
		{client.ChannelAlreadySubscribed, channels.CodeAlreadySubscribed},
		{client.ChannelNotSubscribed, channels.CodeNotSubscribed},
		{client.ChannelTooManySubscriptions, channels.CodeTooManySubscriptions},
		{client.ChannelTooManySubscribers, channels.CodeTooManySubscribers},
		{client.ChannelPublishNotAllowed, channels.CodePublishNotAllowed},
		{client.ChannelRateLimited, protocol.ErrorRateLimited},
		{client.ChannelPresenceNotEnabled, channels.CodePresenceNotEnabled},
		{client.ChannelInvalidCursor, channels.CodeInvalidCursor},
		{client.ChannelPresenceUnavailable, channels.CodePresenceUnavailable},
	} {
		if pair.client != pair.server {
			t.Errorf("the client names %q what the server sends as %q", pair.client, pair.server)
		}
	}
}
