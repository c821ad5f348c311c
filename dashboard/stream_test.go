package dashboard_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
	"github.com/wsgate/wsgate/session"
)

// readTimeout bounds every wait for the node: a sample comes every second.
const readTimeout = 5 * time.Second

// startNode starts a node that trusts ?user_id=, with key as its API key (none when
// empty) and logger (a discarding one when nil).
func startNode(t *testing.T, key string, logger *slog.Logger) *gateway.Gateway {
	t.Helper()
	return testnode.Start(t, gateway.Config{InsecureUserID: true, APIKey: key, Logger: logger,
		Session: session.Config{MaxConnectionsPerUser: session.Unlimited}})
}

// dial connects a client of userID and waits for its welcome, so the node has
// registered it.
func dial(t *testing.T, node *gateway.Gateway, userID string) (*websocket.Conn, string) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(testsupport.WebSocketURL(node.Addr().String(), testsupport.UserQuery(userID)), nil)
	if err != nil {
		t.Fatalf("dial as %q: %v", userID, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.WriteJSON(map[string]string{"type": "hello"}); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	var welcome struct {
		Type         string `json:"type"`
		ConnectionID string `json:"connection_id"`
	}
	if err := conn.ReadJSON(&welcome); err != nil || welcome.Type != "welcome" {
		t.Fatalf("welcome of %q: %+v, %v", userID, welcome, err)
	}
	return conn, welcome.ConnectionID
}

// stream is one page's event stream, read over a raw socket so that the test sees
// exactly what the node writes.
type stream struct {
	t        *testing.T
	conn     net.Conn
	response *http.Response
	reader   *bufio.Reader
}

// openStream asks node for its event stream with the given headers and returns
// the answer; the stream's events are read with next when it is 200.
func openStream(t *testing.T, node *gateway.Gateway, target string, header http.Header) *stream {
	t.Helper()
	conn, err := net.Dial("tcp", node.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	request, err := http.NewRequest("GET", "http://"+node.Addr().String()+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	request.Header = header
	if err := request.Write(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	response, err := http.ReadResponse(bufio.NewReader(conn), request)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return &stream{t: t, conn: conn, response: response, reader: bufio.NewReader(response.Body)}
}

// event is one server-sent event.
type event struct {
	name string
	data string
}

// next reads the next event, failing the test after readTimeout.
func (s *stream) next() event {
	s.t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(readTimeout))
	var read event
	for {
		line, err := s.reader.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if read.name != "" {
				return read
			}
		case strings.HasPrefix(line, "event: "):
			read.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			read.data += line[len("data: "):]
		}
	}
}

// history is the data of the "history" event.
type history struct {
	Series []string     `json:"series"`
	Start  int64        `json:"start"`
	Values [][]*float64 `json:"values"`
}

// sample is the part of a "sample" event the tests read.
type sample struct {
	Time     int64      `json:"time"`
	Values   []*float64 `json:"values"`
	TopUsers []struct {
		UserID      string `json:"user_id"`
		Connections int    `json:"connections"`
	} `json:"top_users"`
	Nodes []struct {
		ID          string `json:"id"`
		Connections int    `json:"connections"`
		State       string `json:"state"`
		Self        bool   `json:"self"`
	} `json:"nodes"`
}

// readHistory reads the first event, which must be the history.
func (s *stream) readHistory() history {
	s.t.Helper()
	first := s.next()
	var decoded history
	if first.name != "history" || json.Unmarshal([]byte(first.data), &decoded) != nil {
		s.t.Fatalf("first event %q: %.200s; want the history", first.name, first.data)
	}
	return decoded
}

// sampleWhere reads samples until one satisfies check, failing after readTimeout.
func (s *stream) sampleWhere(what string, check func(sample) bool) (sample, string) {
	s.t.Helper()
	deadline := time.Now().Add(readTimeout)
	for time.Now().Before(deadline) {
		read := s.next()
		if read.name != "sample" {
			s.t.Fatalf("event %q after the history; want samples only", read.name)
		}
		var decoded sample
		if err := json.Unmarshal([]byte(read.data), &decoded); err != nil {
			s.t.Fatalf("sample %s: %v", read.data, err)
		}
		if check(decoded) {
			return decoded, read.data
		}
	}
	s.t.Fatalf("no sample with %s within %v", what, readTimeout)
	return sample{}, ""
}

// value returns a series' value in a sample, -1 when absent.
func (h history) value(values []*float64, name string) float64 {
	for index, series := range h.Series {
		if series == name && values[index] != nil {
			return *values[index]
		}
	}
	return -1
}

func TestTheStreamStartsWithTheHistoryThenASampleEverySecond(t *testing.T) {
	node := startNode(t, "", nil)
	dial(t, node, "alice")
	dial(t, node, "alice")
	dial(t, node, "bob")
	events := openStream(t, node, "/dashboard/api/events", http.Header{})
	if events.response.StatusCode != http.StatusOK || events.response.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		events.response.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("events answered %d %v", events.response.StatusCode, events.response.Header)
	}
	past := events.readHistory()
	if len(past.Series) != 20 || past.Series[0] != "connections" || len(past.Values) != len(past.Series) {
		t.Fatalf("history series %v with %d value lists", past.Series, len(past.Values))
	}
	for index, values := range past.Values {
		if len(values) != len(past.Values[0]) {
			t.Fatalf("series %s holds %d seconds, connections %d", past.Series[index], len(values), len(past.Values[0]))
		}
	}
	first, _ := events.sampleWhere("3 connections", func(s sample) bool { return past.value(s.Values, "connections") == 3 })
	if len(first.TopUsers) != 2 || first.TopUsers[0].UserID != "alice" || first.TopUsers[0].Connections != 2 ||
		len(first.Nodes) != 1 || first.Nodes[0].Connections != 3 || !first.Nodes[0].Self || first.Nodes[0].State != "up" {
		t.Fatalf("sample with 3 connections: top users %+v, nodes %+v", first.TopUsers, first.Nodes)
	}
	dial(t, node, "carol")
	later, _ := events.sampleWhere("4 connections", func(s sample) bool { return past.value(s.Values, "connections") == 4 })
	if later.Time <= first.Time {
		t.Fatalf("a later sample has time %d, the first %d", later.Time, first.Time)
	}
	// A page opened now sees the seconds already sampled at once.
	again := openStream(t, node, "/dashboard/api/events", http.Header{}).readHistory()
	connections := again.Values[0]
	if len(connections) < 2 || connections[len(connections)-1] == nil || *connections[len(connections)-1] != 4 {
		t.Fatalf("a new page's history of connections %v; want the seconds so far, ending with 4", flatten(connections))
	}
}

func TestViewersShareOneEncodedUpdate(t *testing.T) {
	node := startNode(t, "", nil)
	first := openStream(t, node, "/dashboard/api/events", http.Header{})
	second := openStream(t, node, "/dashboard/api/events", http.Header{})
	first.readHistory()
	second.readHistory()
	_, seen := first.sampleWhere("any time", func(sample) bool { return true })
	var decoded sample
	_ = json.Unmarshal([]byte(seen), &decoded)
	_, same := second.sampleWhere("the first viewer's second", func(s sample) bool { return s.Time >= decoded.Time })
	if same != seen {
		t.Fatalf("two viewers got different updates of one second:\n%s\n%s", seen, same)
	}
}

func TestShutdownEndsEveryStream(t *testing.T) {
	node := startNode(t, "", nil)
	events := openStream(t, node, "/dashboard/api/events", http.Header{})
	events.readHistory()
	node.Shutdown(time.Second)
	_ = events.conn.SetReadDeadline(time.Now().Add(readTimeout))
	if _, err := io.Copy(io.Discard, events.reader); err != nil {
		t.Fatalf("the stream did not end with the node: %v", err)
	}
}

func flatten(values []*float64) []float64 {
	flat := make([]float64, len(values))
	for index, value := range values {
		flat[index] = -1
		if value != nil {
			flat[index] = *value
		}
	}
	return flat
}

func TestTheStreamListsTheClustersNodes(t *testing.T) {
	redis := redistest.Start(t)
	start := func(id string) *gateway.Gateway {
		return testnode.Start(t, gateway.Config{InsecureUserID: true,
			Cluster: cluster.Config{RedisURL: redis.URL(), NodeID: id, Lease: time.Second}})
	}
	first, second := start("first"), start("second")
	dial(t, second, "dora")
	events := openStream(t, first, "/dashboard/api/events", http.Header{})
	events.readHistory()
	both, _ := events.sampleWhere("both nodes, the second with its connection", func(s sample) bool {
		return len(s.Nodes) == 2 && s.Nodes[1].Connections == 1
	})
	if both.Nodes[0].ID != "first" || !both.Nodes[0].Self || both.Nodes[1].ID != "second" || both.Nodes[1].State != "up" {
		t.Fatalf("nodes %+v; want this node first and the other up", both.Nodes)
	}
}
