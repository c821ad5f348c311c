package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// History and recovery on one node, over real sockets (docs/channels.md, "History
// and recovery").

// feedNamespace keeps history for the channels "feed:...".
func feedNamespace(size int) []channels.NamespaceOptions {
	return []channels.NamespaceOptions{{Name: "feed", HistorySize: size, RecoverMax: size, Publish: channels.PublishSubscribers}}
}

// position is a stream position as the wire carries it.
type position struct {
	offset uint64
	epoch  string
}

// subscribeAt subscribes conn to channel, recovering from at when it is not nil,
// and returns the answer, failing unless it is "subscribed" with a position.
func subscribeAt(t *testing.T, conn *websocket.Conn, channel string, at *position) (message, position) {
	t.Helper()
	fields := map[string]any{"type": "subscribe", "channel": channel}
	if at != nil {
		fields["recover"], fields["offset"], fields["epoch"] = true, at.offset, at.epoch
	}
	send(t, conn, fields)
	return answerPosition(t, readMessage(t, conn, readTimeout), channel)
}

// answerPosition checks that answer is "subscribed" to channel with a position
// and returns both.
func answerPosition(t *testing.T, answer message, channel string) (message, position) {
	t.Helper()
	offset, hasOffset := answer["offset"].(float64)
	epoch, hasEpoch := answer["epoch"].(string)
	if answer["type"] != "subscribed" || answer["channel"] != channel || !hasOffset || !hasEpoch || epoch == "" {
		t.Fatalf("subscribe to %s: %v, want subscribed with offset and epoch", channel, answer)
	}
	return answer, position{offset: uint64(offset), epoch: epoch}
}

// readPublication reads a publication of channel and returns its offset, failing
// unless its data is its offset (as every test here publishes).
func readPublication(t *testing.T, conn *websocket.Conn, channel string) uint64 {
	t.Helper()
	got := readMessage(t, conn, readTimeout)
	offset, hasOffset := got["offset"].(float64)
	if got["type"] != "publication" || got["channel"] != channel || !hasOffset || got["data"] != offset {
		t.Fatalf("got %v, want a publication of %s whose data is its offset", got, channel)
	}
	return uint64(offset)
}

// publishNumbered publishes the numbers first..last to channel through the
// node's Publisher, each as the data of one publication.
func publishNumbered(t *testing.T, n *node, channel string, first, last int) {
	for number := first; number <= last; number++ {
		result := n.Publisher.PublishToChannel(context.Background(), channel, []byte(strconv.Itoa(number)))
		if result.Err != nil || result.Position.Offset != uint64(number) {
			t.Errorf("publication %d: %+v", number, result)
			return
		}
	}
}

// TestSubscriberCutWhileAThousandStreamRecoversEveryOne: a subscriber behind a
// proxy is cut while 1,000 publications stream; publications continue while it
// is away and while it recovers; it reconnects, recovers from its last offset and
// ends with exactly the 1,000, in order, "recovered":true.
func TestSubscriberCutWhileAThousandStreamRecoversEveryOne(t *testing.T) {
	n := startNode(t, gateway.Config{Namespaces: feedNamespace(2000)})
	proxy, err := tcpproxy.Start(n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = proxy.Close() }()
	dial := func() *websocket.Conn {
		conn, response, err := websocket.DefaultDialer.Dial(testsupport.WebSocketURL(proxy.Addr(), nil), nil)
		if err != nil {
			t.Fatalf("dial through the proxy: %v", err)
		}
		_ = response.Body.Close()
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	const channel = "feed:live"
	conn := dial()
	_, start := subscribeAt(t, conn, channel, nil)
	if start.offset != 0 {
		t.Fatalf("a new channel's position %+v, want offset 0", start)
	}

	cut, away, resubscribing := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var publishing sync.WaitGroup
	publishing.Go(func() {
		publishNumbered(t, n, channel, 1, 400)
		<-cut
		publishNumbered(t, n, channel, 401, 600) // while the subscriber is away
		close(away)
		<-resubscribing
		publishNumbered(t, n, channel, 601, 1000) // while it recovers
	})
	var received []uint64
	for len(received) < 200 {
		received = append(received, readPublication(t, conn, channel))
	}
	proxy.Cut()
	close(cut)
	<-away

	again := dial()
	last := position{offset: received[len(received)-1], epoch: start.epoch}
	send(t, again, map[string]any{"type": "subscribe", "channel": channel, "recover": true, "offset": last.offset, "epoch": last.epoch})
	close(resubscribing)
	answer, top := answerPosition(t, readMessage(t, again, readTimeout), channel)
	if answer["recovered"] != true || top.epoch != start.epoch || top.offset < 600 {
		t.Fatalf("recovery from %+v answered %v", last, answer)
	}
	for len(received) < 1000 {
		received = append(received, readPublication(t, again, channel))
	}
	publishing.Wait()
	for index, offset := range received {
		if offset != uint64(index+1) {
			t.Fatalf("publication %d has offset %d: %v", index+1, offset, received[max(index-3, 0):min(index+3, len(received))])
		}
	}
	expectNothingPending(t, again)
}

// TestRecoveryWhilePublishingAtFullRateHasNoSeam: subscribers leave and recover
// again and again while the backend publishes as fast as it can; every recovery
// is complete, and across all of them each subscriber sees every offset exactly
// once, in order. (A subscriber cut and reconnecting is
// TestSubscriberCutWhileAThousandStreamRecoversEveryOne; here each cycle
// unsubscribes and resubscribes on one connection, which goes through the same
// join, so the seam is exercised hundreds of times without socket churn.)
func TestRecoveryWhilePublishingAtFullRateHasNoSeam(t *testing.T) {
	const size, ahead = 200_000, 300
	n := startNode(t, gateway.Config{Namespaces: feedNamespace(size), Session: session.Config{MaxPendingBytes: 64 << 20}})
	const channel = "feed:firehose"
	const subscribers, cycles, perCycle = 4, 20, 100
	// The publisher runs as fast as the subscribers read (at most ahead
	// publications beyond the slowest), so every join meets publications in
	// flight and no backlog grows without bound.
	var progress [subscribers]atomic.Uint64
	slowest := func() uint64 {
		lowest := progress[0].Load()
		for index := range progress {
			lowest = min(lowest, progress[index].Load())
		}
		return lowest
	}
	stop := make(chan struct{})
	var publishing sync.WaitGroup
	publishing.Go(func() {
		for number := uint64(1); number <= size; number++ {
			for number > slowest()+ahead {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
			n.Publisher.PublishToChannel(context.Background(), channel, []byte(strconv.FormatUint(number, 10)))
		}
	})
	failures := make(chan error, subscribers)
	var reading sync.WaitGroup
	for index := range subscribers {
		conn := n.dial("")
		reading.Go(func() {
			err := cycleThroughRecoveries(conn, channel, cycles, perCycle, &progress[index])
			progress[index].Store(size) // done: no longer holds the publisher back
			failures <- err
		})
	}
	reading.Wait()
	close(stop)
	publishing.Wait()
	close(failures)
	for err := range failures {
		if err != nil {
			t.Error(err)
		}
	}
	if stats := n.Publisher.HistoryStats(); stats.Recovered != subscribers*(cycles-1) || stats.NotRecovered != 0 {
		t.Errorf("history stats %+v, want %d recoveries", stats, subscribers*(cycles-1))
	}
}

// cycleThroughRecoveries subscribes conn to channel (recovering from the last
// offset after the first cycle), reads perCycle publications checking that each
// offset follows the previous one, unsubscribes (reading on up to the answer),
// cycles times; progress is the last offset read.
func cycleThroughRecoveries(conn *websocket.Conn, channel string, cycles, perCycle int, progress *atomic.Uint64) error {
	var last position
	for cycle := range cycles {
		request := map[string]any{"type": "subscribe", "channel": channel}
		if cycle > 0 {
			request["recover"], request["offset"], request["epoch"] = true, last.offset, last.epoch
		}
		if err := readCycle(conn, request, &last, cycle, perCycle, progress); err != nil {
			return fmt.Errorf("cycle %d: %w", cycle, err)
		}
	}
	return nil
}

// readCycle runs one cycle of cycleThroughRecoveries.
func readCycle(conn *websocket.Conn, request map[string]any, last *position, cycle, perCycle int, progress *atomic.Uint64) error {
	if err := conn.WriteJSON(request); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var answer map[string]any
	if err := conn.ReadJSON(&answer); err != nil {
		return err
	}
	epoch, _ := answer["epoch"].(string)
	top, _ := answer["offset"].(float64)
	switch {
	case answer["type"] != "subscribed" || epoch == "":
		return fmt.Errorf("answer %v", answer)
	case cycle > 0 && (answer["recovered"] != true || epoch != last.epoch || uint64(top) < last.offset):
		return fmt.Errorf("recovery from %+v answered %v", *last, answer)
	case cycle == 0:
		*last = position{offset: uint64(top), epoch: epoch}
		progress.Store(last.offset)
	}
	follows := func(publication map[string]any) error {
		offset, _ := publication["offset"].(float64)
		if publication["type"] != "publication" || uint64(offset) != last.offset+1 || publication["data"] != offset {
			return fmt.Errorf("after offset %d got %v (a gap or a duplicate at the seam)", last.offset, publication)
		}
		last.offset++
		progress.Store(last.offset)
		return nil
	}
	for range perCycle {
		var publication map[string]any
		if err := conn.ReadJSON(&publication); err != nil {
			return err
		}
		if err := follows(publication); err != nil {
			return err
		}
	}
	if err := conn.WriteJSON(map[string]any{"type": "unsubscribe", "channel": request["channel"]}); err != nil {
		return err
	}
	for {
		var next map[string]any
		if err := conn.ReadJSON(&next); err != nil {
			return err
		}
		if next["type"] == "unsubscribed" {
			return nil
		}
		if err := follows(next); err != nil {
			return err
		}
	}
}

// TestRecoveryRefusedAnswersTheNewPosition: a gap larger than recover_max, expired
// publications, another epoch and a restarted node are each answered
// "recovered":false with the stream's current position, and no publication
// follows; nothing missed is a recovery of nothing.
func TestRecoveryRefusedAnswersTheNewPosition(t *testing.T) {
	namespaces := []channels.NamespaceOptions{{Name: "feed", HistorySize: 100, RecoverMax: 5},
		{Name: "brief", HistorySize: 100, HistoryTTL: 100 * time.Millisecond}}
	n := startNode(t, gateway.Config{Namespaces: namespaces})
	conn := n.dial("")
	_, start := subscribeAt(t, conn, "feed:a", nil)
	publishNumbered(t, n, "feed:a", 1, 10)
	for offset := uint64(1); offset <= 10; offset++ {
		if got := readPublication(t, conn, "feed:a"); got != offset {
			t.Fatalf("publication %d, want %d", got, offset)
		}
	}
	refused := func(conn *websocket.Conn, channel string, from position, want position) {
		t.Helper()
		answer, top := subscribeAt(t, conn, channel, &from)
		if answer["recovered"] != false || top != want {
			t.Fatalf("recovery of %s from %+v answered %v, want recovered false at %+v", channel, from, answer, want)
		}
		expectNothingPending(t, conn)
	}
	fresh := n.dial("")
	refused(fresh, "feed:a", position{offset: 4, epoch: start.epoch}, position{offset: 10, epoch: start.epoch})
	other := n.dial("")
	refused(other, "feed:a", position{offset: 9, epoch: "another"}, position{offset: 10, epoch: start.epoch})
	upToDate := n.dial("")
	if answer, top := subscribeAt(t, upToDate, "feed:a", &position{offset: 10, epoch: start.epoch}); answer["recovered"] != true || top.offset != 10 {
		t.Fatalf("a recovery with nothing missed answered %v", answer)
	}
	expectNothingPending(t, upToDate)

	// A new stream starts after the highest offset the node issued (10).
	_, brief := subscribeAt(t, n.dial(""), "brief:a", nil)
	if brief.offset != 10 {
		t.Fatalf("brief:a starts at %+v", brief)
	}
	publishNumbered(t, n, "brief:a", 11, 13)
	waitFor(t, 5*time.Second, "brief:a's publications to expire", func() bool {
		_, body := n.apiCall("GET", "/api/v1/channels/brief:a/history", "", nil)
		list, _ := body["publications"].([]any)
		return len(list) == 0
	})
	refused(n.dial(""), "brief:a", position{offset: 11, epoch: brief.epoch}, position{offset: 13, epoch: brief.epoch})

	// A restarted node keeps nothing of its memory history: a new epoch at 0.
	restarted := startNode(t, gateway.Config{Namespaces: namespaces})
	conn, response, err := websocket.DefaultDialer.Dial(restarted.wsURL(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = response.Body.Close()
	defer func() { _ = conn.Close() }()
	answer, top := subscribeAt(t, conn, "feed:a", &position{offset: 10, epoch: start.epoch})
	if answer["recovered"] != false || top.offset != 0 || top.epoch == start.epoch {
		t.Fatalf("recovery on a restarted node answered %v", answer)
	}
}

// TestHistoryThroughTheAPIAndClientPublish: the publish answers carry the offset
// and epoch; the history endpoint reads the stream; a client's publish is
// acknowledged with its position and reaches the other subscribers with its
// offset (not the publisher, without publisher_receives).
func TestHistoryThroughTheAPIAndClientPublish(t *testing.T) {
	n := startNode(t, gateway.Config{Namespaces: feedNamespace(3)})
	status, body := n.apiCall("POST", "/api/v1/channels/feed:x/publish", "", `{"data":1}`)
	if status != http.StatusOK || body["offset"] != 1.0 || body["epoch"] == "" || body["queued"] != 0.0 {
		t.Fatalf("publish: status %d, body %v", status, body)
	}
	epoch := body["epoch"]
	status, body = n.apiCall("POST", "/api/v1/publish", "", `{"publications":[{"channel":"feed:x","data":2},{"channel":"plain","data":0}]}`)
	results, _ := body["results"].([]any)
	if status != http.StatusOK || len(results) != 2 || fmt.Sprint(results[0]) != fmt.Sprintf("map[epoch:%v offset:2 queued:0]", epoch) ||
		fmt.Sprint(results[1]) != "map[queued:0]" {
		t.Fatalf("batch: status %d, body %v", status, body)
	}

	publisher, reader := n.dial(""), n.dial("")
	subscribeAt(t, publisher, "feed:x", nil)
	subscribeAt(t, reader, "feed:x", nil)
	answer := request(t, publisher, map[string]any{"type": "publish", "channel": "feed:x", "data": 3, "id": "p"})
	if answer["type"] != "published" || answer["offset"] != 3.0 || answer["epoch"] != epoch || answer["id"] != "p" {
		t.Fatalf("published %v", answer)
	}
	if got := readPublication(t, reader, "feed:x"); got != 3 {
		t.Fatalf("the reader got offset %d", got)
	}
	expectNothingPending(t, publisher)
	publishNumbered(t, n, "feed:x", 4, 5)

	status, body = n.apiCall("GET", "/api/v1/channels/feed:x/history?since=3&limit=10", "", nil)
	if status != http.StatusOK || fmt.Sprint(body["publications"]) != "[map[data:4 offset:4] map[data:5 offset:5]]" ||
		body["offset"] != 5.0 || body["epoch"] != epoch {
		t.Fatalf("history since 3: status %d, body %v", status, body)
	}
	status, body = n.apiCall("GET", "/api/v1/channels/feed:x/history", "", nil)
	if list, _ := body["publications"].([]any); status != http.StatusOK || len(list) != 3 {
		t.Fatalf("history (size 3): status %d, body %v", status, body)
	}
	for path, want := range map[string]string{
		"/api/v1/channels/plain/history":             "404 no_history",
		"/api/v1/channels/feed:x/history?since=-1":   "400 invalid_since",
		"/api/v1/channels/feed:x/history?limit=0":    "400 invalid_limit",
		"/api/v1/channels/bad%20name/history":        "400 invalid_channel",
		"/api/v1/channels/feed:x/history?limit=junk": "400 invalid_limit",
	} {
		status, body := n.apiCall("GET", path, "", nil)
		if got := fmt.Sprint(status, " ", body["error"]); got != want {
			t.Errorf("GET %s: %s (%v), want %s", path, got, body, want)
		}
	}
}

// TestHistoryPositionsOnEverySubscribePath: a subscription made by the backend
// carries the position too, and a recover request for a channel without history is
// answered "recovered":false without one.
func TestHistoryPositionsOnEverySubscribePath(t *testing.T) {
	n := startNode(t, gateway.Config{Namespaces: feedNamespace(10), InsecureUserID: true})
	publishNumbered(t, n, "feed:y", 1, 2)
	conn := n.dial("ada")
	welcome(t, conn)
	status, body := n.apiCall("POST", "/api/v1/users/ada/subscribe", "", `{"channel":"feed:y"}`)
	if status != http.StatusOK || body["connections"] != 1.0 {
		t.Fatalf("server-side subscribe: status %d, body %v", status, body)
	}
	if _, top := answerPosition(t, readMessage(t, conn, readTimeout), "feed:y"); top.offset != 2 {
		t.Fatalf("server-side subscription at %+v", top)
	}
	answer := request(t, conn, map[string]any{"type": "subscribe", "channel": "plain", "recover": true, "offset": 3, "epoch": "e"})
	if answer["type"] != "subscribed" || answer["recovered"] != false || answer["offset"] != nil {
		t.Fatalf("recover on a channel without history: %v", answer)
	}
}
