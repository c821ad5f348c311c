package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// quiet is a logger that discards.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newNode returns a hub, its publisher and transport, and a dashboard over them
// (not started), shut down when the test ends.
func newNode(t testing.TB) (*session.Transport, *Dashboard) {
	t.Helper()
	latencies := NewLatencies(nil)
	hub, err := session.NewHub(session.Config{Observer: latencies, Logger: quiet, MaxConnectionsPerUser: session.Unlimited,
		PingInterval: session.Off})
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Hub: hub, Publisher: publisher, Latencies: latencies, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		hub.Shutdown(time.Second)
	})
	return transport, d
}

// open opens a session of userID over an in-memory connection.
func open(t testing.TB, transport *session.Transport, userID string) *session.Session {
	t.Helper()
	s := transport.Open(&testsupport.Conn{Discard: true}, session.Identity{UserID: userID})
	if !s.IsOpen() {
		t.Fatalf("session of %q refused: %s", userID, s.Reason())
	}
	return s
}

func TestASecondsValuesAreItsRatesLevelsAndLatencies(t *testing.T) {
	transport, d := newNode(t)
	hub := transport.Hub()
	sessions := []*session.Session{open(t, transport, "alice"), open(t, transport, "alice"), open(t, transport, "bob")}
	first := d.readSeries()
	if first[seriesConnections] != 3 || first[seriesUsers] != 2 || first[seriesConnects] != 3 ||
		first[seriesFanoutP50] != absent || first[seriesPingP99] != absent {
		t.Fatalf("first second: %v; want 3 connections of 2 users, 3 connects, no latency", first)
	}
	transport.PeerClosed(sessions[0], 1000)
	transport.Closed(sessions[0], session.ReasonClientClose)
	sessions[1].Close(session.ReasonKicked)
	transport.Closed(sessions[1], session.ReasonError)
	for range 3 {
		hub.Broadcast([]byte("frame"))
	}
	d.config.Latencies.PingAnswered(40 * time.Millisecond)
	second := d.readSeries()
	if second[seriesConnections] != 1 || second[seriesUsers] != 1 || second[seriesConnects] != 0 ||
		second[seriesDisconnects+0] != 1 || second[seriesDisconnects+5] != 1 || second[seriesOtherDisconnects] != 0 ||
		second[seriesMessagesOut] != 3 {
		t.Fatalf("second second: %v; want 1 connection, a client close, a kick, 3 frames out", second)
	}
	if second[seriesFanoutP50] == absent || second[seriesFanoutP99] < second[seriesFanoutP50] ||
		!within(uint64(second[seriesPingP50]), 40000, 0.13) {
		t.Fatalf("latencies %v µs; want a fan-out and a ping round trip of about 40,000 µs", second[seriesFanoutP50:])
	}
	if names := seriesNames; names[seriesDisconnects+0] != "disconnects.client_close" || names[seriesDisconnects+5] != "disconnects.kicked" {
		t.Fatalf("series names %v", names)
	}
	third := d.readSeries()
	if third[seriesFanoutP50] != absent || third[seriesDisconnects+5] != 0 {
		t.Fatalf("a quiet second: %v; want no latency and no disconnect", third)
	}
}

func TestAnUpdateListsTopUsersChannelsAndThisNode(t *testing.T) {
	transport, d := newNode(t)
	for user := range 12 {
		for range user + 1 {
			open(t, transport, fmt.Sprintf("user-%02d", user))
		}
	}
	values := d.readSeries()
	event := string(d.encodeUpdate(1234, &values))
	data, found := strings.CutPrefix(event, "event: sample\ndata: ")
	if !found || !strings.HasSuffix(data, "\n\n") || strings.Count(data, "\n") != 2 {
		t.Fatalf("update is not one server-sent event: %q", event)
	}
	var document struct {
		Time     int64            `json:"time"`
		Values   []*float64       `json:"values"`
		TopUsers []map[string]any `json:"top_users"`
		Truncate bool             `json:"top_users_truncated"`
		Nodes    []map[string]any `json:"nodes"`
		Cluster  string           `json:"cluster"`
	}
	if err := json.Unmarshal([]byte(data), &document); err != nil {
		t.Fatalf("update data %s: %v", data, err)
	}
	if document.Time != 1234 || len(document.Values) != seriesCount || *document.Values[seriesConnections] != 78 ||
		document.Values[seriesFanoutP50] != nil {
		t.Fatalf("update time %d values %v; want 78 connections and no fan-out", document.Time, document.Values)
	}
	if len(document.TopUsers) != TopLimit || !document.Truncate || document.TopUsers[0]["user_id"] != "user-11" ||
		document.TopUsers[0]["connections"] != 12.0 {
		t.Fatalf("top users %v (truncated %v); want %d, user-11 with 12 first", document.TopUsers, document.Truncate, TopLimit)
	}
	if document.Cluster != "single" || len(document.Nodes) != 1 || document.Nodes[0]["connections"] != 78.0 ||
		document.Nodes[0]["self"] != true {
		t.Fatalf("nodes %v, cluster %q; want this node alone", document.Nodes, document.Cluster)
	}
}

func TestLatenciesAreSentInMillisecondsAndCountsAsTheyAre(t *testing.T) {
	for _, example := range []struct {
		series int
		value  uint32
		want   string
	}{
		{seriesConnections, 1234567, "1234567"},
		{seriesFanoutP50, 0, "0"},
		{seriesFanoutP50, 7, "0.007"},
		{seriesFanoutP99, 1500, "1.5"},
		{seriesPingP50, 12340, "12.34"},
		{seriesPingP99, 2000000, "2000"},
	} {
		if got := string(appendValue(nil, example.series, example.value)); got != example.want {
			t.Errorf("appendValue(%s, %d) = %s; want %s", seriesNames[example.series], example.value, got, example.want)
		}
	}
}
