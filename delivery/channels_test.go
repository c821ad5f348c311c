package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// channelCluster is a Forwarder that records what the
// Publisher hands to the cluster, standing in for package cluster's node (the two
// together over real Redis: gateway/cluster_channels_test.go): it checks which
// calls the delivery side makes and with what.
type channelCluster struct {
	mutex     sync.Mutex
	calls     []string
	failWith  error
	ownsNoone bool
}

func (c *channelCluster) record(format string, arguments ...any) {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	c.calls = append(c.calls, fmt.Sprintf(format, arguments...))
}

func (c *channelCluster) recorded() []string {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return slices.Clone(c.calls)
}

func (c *channelCluster) Owns(session.ConnectionID) bool { return !c.ownsNoone }
func (c *channelCluster) PublishBroadcast(context.Context, []byte, []session.ConnectionID) (int, error) {
	return 0, nil
}
func (c *channelCluster) PublishToUser(context.Context, string, []byte) (int, error) { return 0, nil }
func (c *channelCluster) PublishToConnection(context.Context, session.ConnectionID, []byte) (bool, error) {
	return false, nil
}
func (c *channelCluster) KickConnection(context.Context, session.ConnectionID, string) (bool, error) {
	return false, nil
}
func (c *channelCluster) KickUser(context.Context, string, string) (int, error) { return 0, nil }
func (c *channelCluster) RelayBroadcast([]byte)                                 {}

func (c *channelCluster) PublishToChannel(_ context.Context, channel string, payload []byte) (int, error) {
	c.record("publish %s %s", channel, payload)
	return 2, c.failWith
}
func (c *channelCluster) RelayToChannel(channel string, payload []byte) {
	c.record("relay %s %s", channel, payload)
}
func (c *channelCluster) ChangeUserSubscription(_ context.Context, userID, channel string, subscribe bool, reason string) (int, error) {
	c.record("user %s %s %v %q", userID, channel, subscribe, reason)
	return 2, nil
}
func (c *channelCluster) ChangeConnectionSubscription(_ context.Context, _ session.ConnectionID, channel string, subscribe bool, reason string) (bool, error) {
	c.record("connection %s %v %q", channel, subscribe, reason)
	return true, nil
}
func (c *channelCluster) ChannelInterest(channel string, interested bool) {
	c.record("interest %s %v", channel, interested)
}

// openSession opens a session of hub for userID through a transport that hands its
// messages to publisher, as the engine does.
func openSession(t *testing.T, hub *session.Hub, publisher *delivery.Publisher, userID string) (*session.Transport, *session.Session, *testsupport.Conn) {
	t.Helper()
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		t.Fatal(err)
	}
	conn := &testsupport.Conn{}
	s := transport.Open(conn, session.Identity{UserID: userID})
	if !s.IsOpen() {
		t.Fatalf("session refused: %s", s.Reason())
	}
	return transport, s, conn
}

// TestForwarderCarriesChannels: the first subscriber and the last leaving tell the
// cluster; a client's publication is relayed, the backend's published with the
// same payload the local subscribers got; user subscriptions go everywhere; a batch
// stops forwarding after the first failure.
func TestForwarderCarriesChannels(t *testing.T) {
	hub := newHub(t)
	forwarder := &channelCluster{}
	namespaces, err := channels.NewNamespaces([]channels.NamespaceOptions{{Name: "chat", Publish: channels.PublishSubscribers}}, false)
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Forwarder: forwarder, Logger: quiet, Namespaces: namespaces})
	if err != nil {
		t.Fatal(err)
	}
	transport, ada, _ := openSession(t, hub, publisher, "ada")
	transport.HandleText(ada, []byte(`{"type":"subscribe","channel":"chat:a"}`))
	transport.HandleText(ada, []byte(`{"type":"publish","channel":"chat:a","data":1}`))
	if !publisher.HasLocalSubscribers("chat:a") || publisher.HasLocalSubscribers("chat:b") {
		t.Fatal("HasLocalSubscribers does not follow the index")
	}
	ctx := context.Background()
	if result := publisher.PublishToChannel(ctx, "chat:a", []byte(`{"x":2}`)); result.Local != 1 || result.Nodes != 2 || !result.Forwarded {
		t.Fatalf("publish: %+v", result)
	}
	if result := publisher.ChangeUserSubscription(ctx, "ada", "chat:b", true, ""); result.Local != 1 || result.Nodes != 2 {
		t.Fatalf("user subscription: %+v", result)
	}
	if local := publisher.PublishToChannelLocal("chat:b", []byte(`{"type":"publication","channel":"chat:b","data":3}`)); local != 1 {
		t.Fatalf("publication from another node queued %d, want 1", local)
	}
	transport.Closed(ada, session.ReasonError)
	want := []string{
		"interest chat:a true",
		`relay chat:a {"type":"publication","channel":"chat:a","data":1}`,
		`publish chat:a {"type":"publication","channel":"chat:a","data":{"x":2}}`,
		"interest chat:b true",
		`user ada chat:b true ""`,
	}
	got := forwarder.recorded()
	if !slices.Equal(got[:len(want)], want) || len(got) != len(want)+2 {
		t.Fatalf("calls\n%q\nwant\n%q and the two interests ending", got, want)
	}
	if ending := got[len(want):]; !slices.Contains(ending, "interest chat:a false") || !slices.Contains(ending, "interest chat:b false") {
		t.Fatalf("closing the session told %q", ending)
	}
	if stats := publisher.ChannelStats(); stats.PublicationsFromClients != 1 || stats.PublicationsFromAPI != 1 ||
		stats.PublicationsFromCluster != 1 || stats.Subscriptions != 0 {
		t.Fatalf("stats %+v", stats)
	}

	outage := errors.New("redis down")
	forwarder.failWith = outage
	results := publisher.PublishBatch(ctx, []delivery.ChannelPublication{{"a", []byte("1")}, {"b", []byte("2")}, {"c", []byte("3")}})
	if len(results) != 3 || !errors.Is(results[0].Err, outage) || !errors.Is(results[2].Err, outage) || !results[2].Forwarded {
		t.Fatalf("batch results %+v", results)
	}
	if calls := forwarder.recorded(); len(calls) != len(got)+1 {
		t.Fatalf("the batch forwarded %q after the first failure", calls[len(got):])
	}
	forwarder.ownsNoone = true
	if result := publisher.ChangeConnectionSubscription(ctx, session.NewConnectionID(), "c", false, "bye"); result.Nodes != 1 || result.Local != 0 {
		t.Fatalf("another node's connection: %+v", result)
	}
}

// TestSubscriptionRacingTheCloseLeavesNothing: a subscribe that lands after the
// session's cleanup is taken back, so no closed session stays in the index.
func TestSubscriptionRacingTheCloseLeavesNothing(t *testing.T) {
	hub := newHub(t)
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		transport, s, _ := openSession(t, hub, publisher, "")
		var group sync.WaitGroup
		group.Go(func() {
			for channel := range 20 {
				transport.HandleText(s, fmt.Appendf(nil, `{"type":"subscribe","channel":"c%d"}`, channel))
			}
		})
		group.Go(func() {
			s.Close(session.ReasonKicked)
			transport.Closed(s, session.ReasonError)
		})
		group.Wait()
	}
	if stats := publisher.ChannelStats(); stats.Subscriptions != 0 || stats.Channels != 0 {
		t.Fatalf("%d subscriptions in %d channels left by closed sessions", stats.Subscriptions, stats.Channels)
	}
}

// TestPublicationFrameIsSharedByteForByte: every subscriber's queue gets the same
// frame, the publication payload framed once.
func TestPublicationFrameIsSharedByteForByte(t *testing.T) {
	hub := newHub(t)
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var conns []*testsupport.Conn
	for range 3 {
		transport, s, conn := openSession(t, hub, publisher, "")
		transport.HandleText(s, []byte(`{"type":"subscribe","channel":"n"}`))
		conns = append(conns, conn)
	}
	if result := publisher.PublishToChannel(context.Background(), "n", []byte(`[1, 2]`)); result.Local != 3 || result.Forwarded {
		t.Fatalf("result %+v", result)
	}
	// Writes may be coalesced: the queue holds the subscribed answer, then the
	// publication.
	want := slices.Concat(protocol.ChannelAnswer{Type: protocol.TypeSubscribed, Channel: "n"}.Frame(),
		protocol.TextFrame([]byte(`{"type":"publication","channel":"n","data":[1, 2]}`)))
	for position, conn := range conns {
		written := func() []byte { return bytes.Join(conn.Writes(), nil) }
		testsupport.WaitFor(t, 5*time.Second, "the subscribed answer and the publication", func() bool { return len(written()) >= len(want) })
		if got := written(); !bytes.Equal(got, want) {
			t.Fatalf("subscriber %d got %q, want %q", position, got, want)
		}
	}
}
