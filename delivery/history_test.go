package delivery_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// The cluster's side of history, with the memory store standing in for the
// shared one: a cluster's store publishes every appended publication to every
// node, which the tests do by hand through PublishToChannelLocalAt, the hook the
// cluster calls. (The single node's side is tested over real sockets in gateway.)

var feedNamespaces = []channels.NamespaceOptions{{Name: "feed", HistorySize: 100, Publish: channels.PublishSubscribers}}

// payloads splits what conn received into the payloads of its text frames.
func payloads(conn *testsupport.Conn) []string {
	written := bytes.Join(conn.Writes(), nil)
	var list []string
	for len(written) >= 2 {
		length, header := int(written[1]&0x7f), 2
		switch length {
		case 126:
			length, header = int(binary.BigEndian.Uint16(written[2:4])), 4
		case 127:
			length, header = int(binary.BigEndian.Uint64(written[2:10])), 10
		}
		list = append(list, string(written[header:header+length]))
		written = written[header+length:]
	}
	return list
}

// expectPayloads waits until conn received want, exactly.
func expectPayloads(t *testing.T, conn *testsupport.Conn, want ...string) {
	t.Helper()
	testsupport.WaitFor(t, 5*time.Second, fmt.Sprintf("%d frames", len(want)), func() bool { return len(payloads(conn)) >= len(want) })
	if got := payloads(conn); !slices.Equal(got, want) {
		t.Fatalf("received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// clusterPublisher returns a Publisher forwarding to a recording cluster, with
// store as the cluster's history store and ready as its ChannelReady.
func clusterPublisher(t *testing.T, hub *session.Hub, store history.Store, ready func(context.Context, string) error,
	config delivery.Config) *delivery.Publisher {
	t.Helper()
	namespaces, err := channels.NewNamespaces(feedNamespaces, false)
	if err != nil {
		t.Fatal(err)
	}
	config.Hub, config.Forwarder, config.Logger, config.Namespaces = hub, &channelCluster{}, quiet, namespaces
	config.History, config.ChannelReady = store, ready
	publisher, err := delivery.NewPublisher(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(publisher.Close)
	return publisher
}

// quietHub returns a hub without a heartbeat, so that only what a test causes
// reaches its connections.
func quietHub(t *testing.T) *session.Hub {
	t.Helper()
	hub, err := session.NewHub(session.Config{Logger: quiet, PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Shutdown(0) })
	return hub
}

func newStore(t *testing.T) *history.Memory {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

var feedOptions = history.Options{Size: 100, TTL: channels.DefaultHistoryTTL}

// TestClusterDeliversHistoryFromTheStoreMessage: in a cluster the publishing node
// delivers nothing itself; every node delivers the store's message, encoded with
// its offset. The subscribe's answer carries the position once ChannelReady
// returned.
func TestClusterDeliversHistoryFromTheStoreMessage(t *testing.T) {
	hub, store := quietHub(t), newStore(t)
	readied := make(chan string, 1)
	publisher := clusterPublisher(t, hub, store, func(_ context.Context, channel string) error {
		readied <- channel
		return nil
	}, delivery.Config{})
	transport, s, conn := openSession(t, hub, publisher, "")
	transport.HandleText(s, []byte(`{"type":"subscribe","channel":"feed:a","id":1}`))
	if channel := <-readied; channel != "feed:a" {
		t.Fatalf("ChannelReady for %q", channel)
	}
	_, top, _ := store.Read(context.Background(), "feed:a", 0, 0, feedOptions)
	subscribed := fmt.Sprintf(`{"type":"subscribed","channel":"feed:a","id":1,"offset":0,"epoch":%q}`, top.Epoch)
	expectPayloads(t, conn, subscribed)

	result := publisher.PublishToChannel(context.Background(), "feed:a", []byte(`"x"`))
	if result.Local != 0 || !result.Forwarded || result.Position != (history.Position{Offset: 1, Epoch: top.Epoch}) || result.Err != nil {
		t.Fatalf("publish: %+v", result)
	}
	if delivered := publisher.PublishToChannelLocalAt("feed:a", []byte(`"x"`), result.Position); delivered != 1 {
		t.Fatalf("the store's message reached %d subscribers", delivered)
	}
	expectPayloads(t, conn, subscribed, `{"type":"publication","channel":"feed:a","data":"x","offset":1}`)
	if stats := publisher.HistoryStats(); stats.Appended != 1 {
		t.Fatalf("stats %+v", stats)
	}
}

// TestClusterRecoverySeam: a recovery that waits for ChannelReady buffers the
// publications arriving meanwhile; once answered, it sends what it read, then
// the buffered ones it did not send, and skips the store's messages for offsets
// it sent already (still on their way from Redis), until the live stream passes
// it. Each publication arrives exactly once.
func TestClusterRecoverySeam(t *testing.T) {
	hub, store := quietHub(t), newStore(t)
	release := make(chan struct{})
	publisher := clusterPublisher(t, hub, store, func(ctx context.Context, _ string) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, delivery.Config{})
	ctx := context.Background()
	var positions []history.Position
	for number := 1; number <= 3; number++ {
		positions = append(positions, publisher.PublishToChannel(ctx, "feed:a", fmt.Appendf(nil, "%d", number)).Position)
	}
	epoch := positions[0].Epoch
	transport, s, conn := openSession(t, hub, publisher, "")
	transport.HandleText(s, fmt.Appendf(nil, `{"type":"subscribe","channel":"feed:a","recover":true,"offset":1,"epoch":%q}`, epoch))
	// Publication 4 is appended and its message arrives before the read: buffered.
	positions = append(positions, publisher.PublishToChannel(ctx, "feed:a", []byte("4")).Position)
	publisher.PublishToChannelLocalAt("feed:a", []byte("4"), positions[3])
	if got := payloads(conn); len(got) != 0 {
		t.Fatalf("a joining connection received %q before its answer", got)
	}
	// Publication 5 is appended before the read; its message arrives after the answer.
	positions = append(positions, publisher.PublishToChannel(ctx, "feed:a", []byte("5")).Position)
	close(release)
	publication := func(offset int) string {
		return fmt.Sprintf(`{"type":"publication","channel":"feed:a","data":%d,"offset":%d}`, offset, offset)
	}
	want := []string{fmt.Sprintf(`{"type":"subscribed","channel":"feed:a","recovered":true,"offset":5,"epoch":%q}`, epoch),
		publication(2), publication(3), publication(4), publication(5)}
	expectPayloads(t, conn, want...)
	publisher.PublishToChannelLocalAt("feed:a", []byte("5"), positions[4])
	positions = append(positions, publisher.PublishToChannel(ctx, "feed:a", []byte("6")).Position)
	publisher.PublishToChannelLocalAt("feed:a", []byte("6"), positions[5])
	positions = append(positions, publisher.PublishToChannel(ctx, "feed:a", []byte("7")).Position)
	publisher.PublishToChannelLocalAt("feed:a", []byte("7"), positions[6])
	expectPayloads(t, conn, append(want, publication(6), publication(7))...)
	if stats := publisher.HistoryStats(); stats.Recovered != 1 || stats.RecoveredPublications != 4 {
		t.Fatalf("stats %+v", stats)
	}
}

// failingStore is a store whose Redis is down: every call fails.
type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Append(context.Context, string, []byte, history.Options) (history.Position, error) {
	return history.Position{}, errDown
}

func (failingStore) Read(context.Context, string, uint64, int, history.Options) ([]history.Publication, history.Position, error) {
	return nil, history.Position{}, errDown
}

// TestStoreOutageDegradesToThisNodeWithoutOffsets: with the store down a
// subscribe is answered without a position ("recovered":false when asked) and
// publications are delivered on this node without offsets, the failure reported
// and counted.
func TestStoreOutageDegradesToThisNodeWithoutOffsets(t *testing.T) {
	hub := quietHub(t)
	publisher := clusterPublisher(t, hub, failingStore{}, nil, delivery.Config{})
	transport, s, conn := openSession(t, hub, publisher, "")
	transport.HandleText(s, []byte(`{"type":"subscribe","channel":"feed:a","recover":true,"offset":3,"epoch":"e"}`))
	subscribed := `{"type":"subscribed","channel":"feed:a","recovered":false}`
	expectPayloads(t, conn, subscribed)
	result := publisher.PublishToChannel(context.Background(), "feed:a", []byte("1"))
	if !errors.Is(result.Err, errDown) || result.Local != 1 || result.Position != (history.Position{}) {
		t.Fatalf("publish during the outage: %+v", result)
	}
	transport.HandleText(s, []byte(`{"type":"publish","channel":"feed:a","data":2,"id":"p"}`))
	expectPayloads(t, conn, subscribed, `{"type":"publication","channel":"feed:a","data":1}`,
		`{"type":"published","channel":"feed:a","id":"p"}`)
	if stats := publisher.HistoryStats(); stats.JoinFailures != 1 || stats.AppendFailures != 2 || stats.NotRecovered != 1 {
		t.Fatalf("stats %+v", stats)
	}
	results := publisher.PublishBatch(context.Background(), []delivery.ChannelPublication{{"feed:a", []byte("3")}, {"feed:a", []byte("4")}})
	if !errors.Is(results[0].Err, errDown) || !errors.Is(results[1].Err, errDown) {
		t.Fatalf("batch during the outage: %+v", results)
	}
}

// TestSaturatedHistoryWorkersRefuseAtOnce: with every worker and queue slot taken,
// a subscribe is answered at once without a position and a client publication is
// delivered here without an offset; neither waits.
func TestSaturatedHistoryWorkersRefuseAtOnce(t *testing.T) {
	hub, store := quietHub(t), newStore(t)
	busy, release := make(chan struct{}, 1), make(chan struct{})
	publisher := clusterPublisher(t, hub, store, func(ctx context.Context, _ string) error {
		busy <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, delivery.Config{HistoryWorkers: 1, HistoryQueue: 1})
	transport, first, firstConn := openSession(t, hub, publisher, "")
	transport.HandleText(first, []byte(`{"type":"subscribe","channel":"feed:a"}`))
	<-busy                                                                         // the only worker waits in ChannelReady
	transport.HandleText(first, []byte(`{"type":"subscribe","channel":"feed:b"}`)) // fills the queue
	_, second, secondConn := openSession(t, hub, publisher, "")
	transport.HandleText(second, []byte(`{"type":"subscribe","channel":"feed:a"}`))
	expectPayloads(t, secondConn, `{"type":"subscribed","channel":"feed:a"}`)
	transport.HandleText(first, []byte(`{"type":"publish","channel":"feed:a","data":1}`))
	expectPayloads(t, secondConn, `{"type":"subscribed","channel":"feed:a"}`, `{"type":"publication","channel":"feed:a","data":1}`)
	if stats := publisher.HistoryStats(); stats.JoinsRejected != 1 || stats.AppendsRejected != 1 {
		t.Fatalf("stats %+v", stats)
	}
	if got := payloads(firstConn); len(got) != 0 {
		t.Fatalf("the joining connection received %q before its answer", got)
	}
	close(release)
	<-busy // the queued subscribe to feed:b
	testsupport.WaitFor(t, 5*time.Second, "both answers", func() bool { return len(payloads(firstConn)) == 2 })
}
