package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/internal/testsupport"
)

// historyNamespace keeps the last 5,000 publications of "live:..." channels and
// lets a recovery send up to as many.
var historyNamespace = channels.NamespaceOptions{Name: "live", HistorySize: 5000, HistoryTTL: time.Minute, RecoverMax: 5000}

// startHistoryCluster starts count nodes with historyNamespace joined through redis.
// Their Redis calls wait up to patientTimeout: these tests stream hundreds of
// publications that must all get an offset, and with the tests' 500 ms one slow call
// on a loaded machine (-race, beside other test suites) marked the node's Redis
// unreachable, and a publication failed (once in ten runs). A Redis that is killed
// refuses at once, so the outage test does not wait for it.
func startHistoryCluster(t *testing.T, redisURL string, count int) []*node {
	t.Helper()
	nodes := make([]*node, count)
	for index := range nodes {
		nodes[index] = startClusterNodeWith(t, redisURL, gateway.Config{Namespaces: []channels.NamespaceOptions{historyNamespace},
			Cluster: cluster.Config{Timeout: patientTimeout}})
	}
	return nodes
}

// patientTimeout bounds the Redis calls of cluster tests in which no call may fail.
const patientTimeout = 5 * time.Second

// publishAbove publishes the numbers first..last to channel through n's
// Publisher, each as the data of one publication, and requires each one's offset
// to be base plus its number: a Redis stream's offsets start above the clock in
// microseconds (docs/cluster.md, "Epochs"), so the tests count from the position a
// new channel's first subscriber gets.
func publishAbove(t *testing.T, n *node, channel string, base uint64, first, last int) {
	for number := first; number <= last; number++ {
		result := n.Publisher.PublishToChannel(context.Background(), channel, []byte(strconv.Itoa(number)))
		if result.Err != nil || result.Position.Offset != base+uint64(number) {
			t.Errorf("publication %d above %d: %+v", number, base, result)
			return
		}
	}
}

// readAbove reads a publication of channel and returns its offset less base,
// failing unless that is its data (as publishAbove publishes).
func readAbove(t *testing.T, conn *websocket.Conn, channel string, base uint64) uint64 {
	t.Helper()
	got := readMessage(t, conn, readTimeout)
	offset, hasOffset := got["offset"].(float64)
	if got["type"] != "publication" || got["channel"] != channel || !hasOffset || got["data"] != offset-float64(base) {
		t.Fatalf("got %v, want a publication of %s whose data is its offset less %d", got, channel, base)
	}
	return uint64(offset) - base
}

// publicationAt is a received publication: its data's "seq" and its offset.
type publicationAt struct {
	sequence int
	offset   uint64
}

// readSequenced reads the next message of conn, which must be a publication of
// channel with data {"seq":N} and an offset; ok is false when the read failed
// (the connection was cut).
func readSequenced(t *testing.T, conn *websocket.Conn, channel string) (publicationAt, bool) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	_, data, err := conn.ReadMessage()
	if err != nil {
		return publicationAt{}, false
	}
	var received struct {
		Type    string
		Channel string
		Data    struct{ Seq int }
		Offset  *uint64
	}
	if err := json.Unmarshal(data, &received); err != nil || received.Type != "publication" || received.Channel != channel ||
		received.Offset == nil {
		t.Fatalf("got %s, want a publication of %q with an offset", data, channel)
	}
	return publicationAt{sequence: received.Data.Seq, offset: *received.Offset}, true
}

// publishSequence publishes {"seq":first} .. {"seq":first+count-1} to channel
// through baseURL's publish API, one after another, and returns each one's offset.
func publishSequence(baseURL, channel string, first, count int) ([]uint64, error) {
	offsets := make([]uint64, 0, count)
	for sequence := first; sequence < first+count; sequence++ {
		response, err := http.Post(baseURL+"/api/v1/channels/"+url.PathEscape(channel)+"/publish", "application/json",
			strings.NewReader(`{"data":{"seq":`+strconv.Itoa(sequence)+`}}`))
		if err != nil {
			return offsets, err
		}
		var answer struct {
			Offset *uint64
			Epoch  string
		}
		body, err := io.ReadAll(response.Body)
		response.Body.Close()
		if err == nil {
			err = json.Unmarshal(body, &answer)
		}
		if err != nil || response.StatusCode != http.StatusOK || answer.Offset == nil || answer.Epoch == "" {
			return offsets, fmt.Errorf("publish %d: status %d %s, %v", sequence, response.StatusCode, body, err)
		}
		offsets = append(offsets, *answer.Offset)
	}
	return offsets, nil
}

// TestClusterHistoryTwoNodesPublishingAtOnceGiveOneOffsetOrderToEverySubscriber: two
// nodes publish 200 each at once; every offset is given once and the three nodes'
// subscribers receive the same order.
func TestClusterHistoryTwoNodesPublishingAtOnceGiveOneOffsetOrderToEverySubscriber(t *testing.T) {
	redis := redistest.Start(t)
	nodes := startHistoryCluster(t, redis.URL(), 3)
	readers := make([]*websocket.Conn, len(nodes))
	for index, n := range nodes {
		readers[index], _ = n.dialWelcomed("reader" + strconv.Itoa(index))
		subscribeAt(t, readers[index], "live:race", nil)
	}
	const perNode = 200
	var group sync.WaitGroup
	offsets := make([][]uint64, 2)
	failures := make([]error, 2)
	for index := range 2 {
		group.Go(func() {
			offsets[index], failures[index] = publishSequence(nodes[index].httpURL(""), "live:race", index*perNode+1, perNode)
		})
	}
	group.Wait()
	for index, err := range failures {
		if err != nil {
			t.Fatalf("publisher %d: %v", index, err)
		}
	}
	seen := make(map[uint64]bool)
	for _, own := range offsets {
		for _, offset := range own {
			if seen[offset] {
				t.Fatalf("offset %d was given twice", offset)
			}
			seen[offset] = true
		}
	}
	var reference []publicationAt
	for index, reader := range readers {
		received := make([]publicationAt, 0, 2*perNode)
		for len(received) < 2*perNode {
			publication, ok := readSequenced(t, reader, "live:race")
			if !ok {
				t.Fatalf("reader %d: read failed after %d publications", index, len(received))
			}
			if len(received) > 0 && publication.offset != received[len(received)-1].offset+1 {
				t.Fatalf("reader %d got offset %d after %d", index, publication.offset, received[len(received)-1].offset)
			}
			received = append(received, publication)
		}
		if index == 0 {
			reference = received
			continue
		}
		for place := range received {
			if received[place] != reference[place] {
				t.Fatalf("reader %d's publication %d is %+v; reader 0's is %+v", index, place, received[place], reference[place])
			}
		}
	}
	expectNoDuplicates(t, readers...)
}

// TestClusterHistoryASubscriberCutMidStreamRecoversOnAnotherNode: a subscriber of
// one node, behind a proxy, is cut while 1,000 publications stream through a third
// node; it reconnects to the second node, recovers from its last offset and ends
// with exactly the 1,000, in order, "recovered":true.
func TestClusterHistoryASubscriberCutMidStreamRecoversOnAnotherNode(t *testing.T) {
	redistest.Each(t, func(t *testing.T, url string) {
		nodes := startHistoryCluster(t, url, 3)
		proxy, err := tcpproxy.Start(nodes[0].Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = proxy.Close() })
		conn, response, err := websocket.DefaultDialer.Dial(testsupport.WebSocketURL(proxy.Addr(), testsupport.UserQuery("mobile")), nil)
		if err != nil {
			t.Fatalf("dial through the proxy: %v", err)
		}
		_ = response.Body.Close()
		t.Cleanup(func() { _ = conn.Close() })
		const channel = "live:feed"
		_, start := subscribeAt(t, conn, channel, nil)

		cut, away, resubscribing := make(chan struct{}), make(chan struct{}), make(chan struct{})
		var publishing sync.WaitGroup
		publishing.Go(func() {
			publishAbove(t, nodes[2], channel, start.offset, 1, 400)
			<-cut
			publishAbove(t, nodes[2], channel, start.offset, 401, 600) // while the subscriber is away
			close(away)
			<-resubscribing
			publishAbove(t, nodes[2], channel, start.offset, 601, 1000) // while it recovers
		})
		var received []uint64
		for len(received) < 200 {
			received = append(received, readAbove(t, conn, channel, start.offset))
		}
		proxy.Cut()
		close(cut)
		<-away

		again, _ := nodes[1].dialWelcomed("mobile")
		last := position{offset: start.offset + received[len(received)-1], epoch: start.epoch}
		send(t, again, map[string]any{"type": "subscribe", "channel": channel, "recover": true, "offset": last.offset, "epoch": last.epoch})
		close(resubscribing)
		answer, top := answerPosition(t, readMessage(t, again, readTimeout), channel)
		if answer["recovered"] != true || top.epoch != start.epoch || top.offset < start.offset+600 {
			t.Fatalf("recovery on another node from %+v answered %v", last, answer)
		}
		for len(received) < 1000 {
			received = append(received, readAbove(t, again, channel, start.offset))
		}
		publishing.Wait()
		for index, offset := range received {
			if offset != uint64(index+1) {
				t.Fatalf("publication %d has offset %d: %v", index+1, offset, received[max(index-3, 0):min(index+3, len(received))])
			}
		}
		expectNothingPending(t, again)
	})
}

func TestClusterHistoryAfterRedisIsFlushedARecoveryFailsWithTheNewEpoch(t *testing.T) {
	redis := redistest.Start(t)
	nodes := startHistoryCluster(t, redis.URL(), 2)
	reader, _ := nodes[0].dialWelcomed("reader")
	_, before := subscribeAt(t, reader, "live:news", nil)
	base := before.offset
	publishAbove(t, nodes[1], "live:news", base, 1, 3)
	for range 3 {
		before.offset = base + readAbove(t, reader, "live:news", base)
	}
	inspector := redisClient(t, redis.URL())
	if err := inspector.Do(context.Background(), inspector.B().Flushall().Build()).Error(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	again, _ := nodes[1].dialWelcomed("reader")
	answer, after := subscribeAt(t, again, "live:news", &before)
	if answer["recovered"] != false || after.epoch == before.epoch || after.offset <= before.offset {
		t.Fatalf("recover from %+v after FLUSHALL: %v, want recovered:false with a new epoch above the old offsets", before, answer)
	}
}

func TestClusterHistoryWithRedisDownPublicationsStayLocalWithoutOffsetsAndRecoveryFails(t *testing.T) {
	redis := redistest.Start(t)
	nodes := startHistoryCluster(t, redis.URL(), 2)
	reader, _ := nodes[0].dialWelcomed("reader")
	_, before := subscribeAt(t, reader, "live:news", nil)
	redis.Kill()
	waitForReadiness(t, nodes, readTimeout, map[string]string{"status": "degraded", "redis": "unavailable"})

	status, body := nodes[0].apiCall("POST", "/api/v1/channels/live:news/publish", "", `{"data":1}`)
	if status != http.StatusServiceUnavailable || body["queued"] != float64(1) || body["offset"] != nil {
		t.Fatalf("publish with Redis down: status %d, body %v; want 503 with queued 1 and no offset", status, body)
	}
	receiveExactly(t, reader, publication("live:news", "1"))
	again, _ := nodes[0].dialWelcomed("other")
	answer := request(t, again, map[string]any{"type": "subscribe", "channel": "live:news", "recover": true,
		"offset": before.offset, "epoch": before.epoch})
	if answer["type"] != "subscribed" || answer["recovered"] != false {
		t.Fatalf("recover with Redis down: %v; want subscribed with recovered:false", answer)
	}
}
