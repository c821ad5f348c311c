package client_test

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/client"
)

// Recovery in channels with history at the level of the wire, against the channel
// server answering with positions: the position kept from subscribed and from each
// publication's offset, the recover request on every resubscribe, OnRecovery,
// duplicates dropped, a stream started over, channels without history, Since. Against
// a real node: recovery_gateway_test.go.

// offsets returns the offset of every publication, in order.
func (l *channelLog) offsets() []uint64 {
	var offsets []uint64
	for _, e := range l.of("publication") {
		offsets = append(offsets, e.offset)
	}
	return offsets
}

// recoveries returns the detail of every recovery event, in order.
func (l *channelLog) recoveries() []client.Recovery {
	var recoveries []client.Recovery
	for _, e := range l.of("recovery") {
		recoveries = append(recoveries, e.recovery)
	}
	return recoveries
}

// historyAnswer answers subscribes like a channel with history at position: a plain
// subscribe gets the position, a recover request recovered:true when its epoch is
// position's (the test then sends the missed publications itself), else false.
func historyAnswer(position *atomic.Pointer[client.Position]) func(map[string]any) map[string]any {
	return func(message map[string]any) map[string]any {
		current := position.Load()
		answer := map[string]any{"offset": current.Offset, "epoch": current.Epoch}
		if message["recover"] == true {
			answer["recovered"] = message["epoch"] == current.Epoch
		}
		return answer
	}
}

// startHistoryServer starts a channel server that answers subscribes like a channel
// with history (historyAnswer) at the returned position, which starts at start and
// which the test moves.
func startHistoryServer(t *testing.T, start client.Position) (*channelServer, *atomic.Pointer[client.Position]) {
	var position atomic.Pointer[client.Position]
	position.Store(&start)
	return startChannelServer(t, channelServerConfig{subscribed: historyAnswer(&position)}), &position
}

// subscribeNews starts a client of server and subscribes it to "news" (subscribeLogged).
func subscribeNews(t *testing.T, server *channelServer) (*channelLog, *client.Subscription) {
	t.Helper()
	return subscribeLogged(t, startClient(t, channelOptions(server.url())), "news")
}

// publication is a publication of news with offset, its data the offset.
func publication(offset uint64) map[string]any {
	return map[string]any{"type": "publication", "channel": "news", "data": offset, "offset": offset}
}

// subscribeRequests returns the subscribe requests the server got, as
// "connection:recover:offset:epoch".
func subscribeRequests(server *channelServer) []string {
	var requests []string
	for _, r := range server.requests("subscribe") {
		requests = append(requests, fmt.Sprintf("%d:%v:%v:%v", r.connection, r.message["recover"], r.message["offset"], r.message["epoch"]))
	}
	return requests
}

func TestResubscribeRecoversFromTheLastDeliveredPositionAndDropsDuplicates(t *testing.T) {
	server, position := startHistoryServer(t, client.Position{Offset: 10, Epoch: "e1"})
	c := startClient(t, channelOptions(server.url()))
	var running atomic.Int32
	news := newChannelLog(t, &running)
	subscription := mustSubscribe(t, c, "news", news, nil)
	if _, ok := subscription.Position(); ok {
		t.Fatal("a position before subscribed")
	}
	waitFor(t, 5*time.Second, "subscribed", func() bool { return news.count("subscribed") == 1 })
	if got, ok := subscription.Position(); !ok || got != (client.Position{Offset: 10, Epoch: "e1"}) {
		t.Fatalf("Position() = %v, %v after subscribed", got, ok)
	}
	for _, offset := range []uint64{11, 12, 12, 11, 13} {
		server.send(server.latest(), publication(offset))
	}
	waitFor(t, 5*time.Second, "three publications", func() bool { return len(news.data()) == 3 })

	position.Store(&client.Position{Offset: 15, Epoch: "e1"})
	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "subscribed again", func() bool { return news.count("subscribed") == 2 })
	for _, offset := range []uint64{14, 15, 16} {
		server.send(server.latest(), publication(offset))
	}
	waitFor(t, 5*time.Second, "the missed publications and the live one", func() bool { return len(news.data()) == 6 })
	if got := news.offsets(); !slices.Equal(got, []uint64{11, 12, 13, 14, 15, 16}) {
		t.Fatalf("offsets %v, want 11 to 16 once each in order", got)
	}
	if got := news.data(); got[0] != "11" {
		t.Fatalf("data %v", got)
	}
	if got := subscribeRequests(server); !slices.Equal(got, []string{"0:<nil>:<nil>:<nil>", "1:true:13:e1"}) {
		t.Fatalf("subscribes %v, want a plain one, then a recover from 13 in e1", got)
	}
	if got := news.recoveries(); !slices.Equal(got, []client.Recovery{{Channel: "news", Recovered: true, Position: client.Position{Offset: 13, Epoch: "e1"}}}) {
		t.Fatalf("recoveries %+v", got)
	}
	if got, _ := subscription.Position(); got != (client.Position{Offset: 16, Epoch: "e1"}) {
		t.Fatalf("Position() = %v", got)
	}
}

func TestRecoveredFalseIsReportedWithTheServersPosition(t *testing.T) {
	server, position := startHistoryServer(t, client.Position{Offset: 3, Epoch: "e1"})
	news, subscription := subscribeNews(t, server)
	server.send(server.latest(), publication(4))
	waitFor(t, 5*time.Second, "a publication", func() bool { return len(news.data()) == 1 })

	// The stream was lost and started over: a new epoch, offsets from 1.
	position.Store(&client.Position{Offset: 2, Epoch: "e2"})
	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "the recovery event", func() bool { return news.count("recovery") == 1 })
	want := client.Recovery{Channel: "news", Recovered: false, Position: client.Position{Offset: 2, Epoch: "e2"}}
	if got := news.recoveries()[0]; got != want {
		t.Fatalf("recovery %+v, want %+v", got, want)
	}
	server.send(server.latest(), publication(2))
	server.send(server.latest(), publication(3))
	waitFor(t, 5*time.Second, "the next publication", func() bool { return len(news.data()) == 2 })
	if got := news.offsets(); !slices.Equal(got, []uint64{4, 3}) {
		t.Fatalf("offsets %v, want 4, then 3 of the new stream (2 was in its position)", got)
	}
	if got, _ := subscription.Position(); got != (client.Position{Offset: 3, Epoch: "e2"}) {
		t.Fatalf("Position() = %v", got)
	}
	if got := subscribeRequests(server); !slices.Equal(got, []string{"0:<nil>:<nil>:<nil>", "1:true:4:e1"}) {
		t.Fatalf("subscribes %v", got)
	}
}

func TestAStreamStartedOverUnderALiveSubscriptionIsDeliveredAndNotRecovered(t *testing.T) {
	server, position := startHistoryServer(t, client.Position{Offset: 5, Epoch: "e1"})
	news, subscription := subscribeNews(t, server)
	// A store started the stream again from 1 (a cluster's Redis flushed), in an
	// epoch the client is not told.
	for _, offset := range []uint64{6, 1, 2} {
		server.send(server.latest(), publication(offset))
	}
	waitFor(t, 5*time.Second, "three publications", func() bool { return len(news.data()) == 3 })
	if got := news.offsets(); !slices.Equal(got, []uint64{6, 1, 2}) {
		t.Fatalf("offsets %v", got)
	}
	position.Store(&client.Position{Offset: 2, Epoch: "e2"})
	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "the recovery event", func() bool { return news.count("recovery") == 1 })
	if got := news.recoveries()[0]; got.Recovered {
		t.Fatalf("recovery %+v: the client cannot know the new epoch, so it must not be recovered", got)
	}
	if got := subscribeRequests(server); got[1] != "1:true:2:e1" {
		t.Fatalf("subscribes %v", got)
	}
	if got, _ := subscription.Position(); got != (client.Position{Offset: 2, Epoch: "e2"}) {
		t.Fatalf("Position() = %v", got)
	}
}

func TestAChannelWithoutHistoryResubscribesPlainlyWithoutRecovery(t *testing.T) {
	server := startChannelServer(t, channelServerConfig{})
	news, subscription := subscribeNews(t, server)
	server.publish("news", "a")
	server.publish("news", "a")
	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "subscribed again", func() bool { return news.count("subscribed") == 2 })
	if got := subscribeRequests(server); !slices.Equal(got, []string{"0:<nil>:<nil>:<nil>", "1:<nil>:<nil>:<nil>"}) {
		t.Fatalf("subscribes %v, want two plain ones", got)
	}
	if got := news.data(); !slices.Equal(got, []string{`"a"`, `"a"`}) {
		t.Fatalf("publications %v: without offsets nothing is dropped", got)
	}
	if _, ok := subscription.Position(); ok || news.count("recovery") != 0 {
		t.Fatalf("a position or a recovery event without history: %v", news.recoveries())
	}
}

func TestSinceRecoversOnTheFirstSubscribe(t *testing.T) {
	server, _ := startHistoryServer(t, client.Position{Offset: 41, Epoch: "e9"})
	c := startClient(t, channelOptions(server.url()))
	var running atomic.Int32
	news := newChannelLog(t, &running)
	options := news.subscribeOptions(nil)
	options.Since = client.Position{Offset: 40, Epoch: "e9"}
	if _, err := c.Subscribe("news", news.handler, options); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	waitFor(t, 5*time.Second, "the recovery event", func() bool { return news.count("recovery") == 1 })
	server.send(server.latest(), publication(40))
	server.send(server.latest(), publication(41))
	waitFor(t, 5*time.Second, "the missed publication", func() bool { return len(news.data()) == 1 })
	if got := news.offsets(); !slices.Equal(got, []uint64{41}) {
		t.Fatalf("offsets %v, want 41 only", got)
	}
	if got := news.recoveries()[0]; got != (client.Recovery{Channel: "news", Recovered: true, Position: client.Position{Offset: 40, Epoch: "e9"}}) {
		t.Fatalf("recovery %+v", got)
	}
	if got := subscribeRequests(server); !slices.Equal(got, []string{"0:true:40:e9"}) {
		t.Fatalf("subscribes %v", got)
	}
	if _, err := c.Subscribe("other", news.handler, client.SubscribeOptions{Since: client.Position{Offset: 3}}); err == nil {
		t.Fatal("Since with an offset and no epoch was accepted")
	}
}

func TestAlreadySubscribedToARecoverRequestIsNotRecovered(t *testing.T) {
	var position atomic.Pointer[client.Position]
	position.Store(&client.Position{Offset: 5, Epoch: "e1"})
	var connections atomic.Int32
	server := startChannelServer(t, channelServerConfig{
		subscribed: historyAnswer(&position),
		// From the second connection on, the server subscribes the connection itself
		// before the client's subscribe arrives: no recovery was made.
		onHello: func(server *channelServer, connection *fakeConnection) {
			if connections.Add(1) > 1 {
				server.subscribe(connection, "news", map[string]any{"offset": 7, "epoch": "e1"})
			}
		},
	})
	news, subscription := subscribeNews(t, server)
	server.closeAll(client.CodeGoingAway, "restart")
	waitFor(t, 5*time.Second, "the recovery event", func() bool { return news.count("recovery") == 1 })
	if got := news.recoveries()[0]; got.Recovered || got.Position != (client.Position{Offset: 7, Epoch: "e1"}) {
		t.Fatalf("recovery %+v, want not recovered at 7", got)
	}
	waitFor(t, 5*time.Second, "the already_subscribed answer", func() bool { return len(server.requests("subscribe")) == 2 })
	if got, _ := subscription.Position(); got != (client.Position{Offset: 7, Epoch: "e1"}) || news.count("recovery") != 1 {
		t.Fatalf("Position() = %v, %d recoveries", got, news.count("recovery"))
	}
}
