package gateway_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// metricsUsers are the user ids the metrics tests connect as; no label may carry one.
var metricsUsers = []string{"alice", "bob", "carol", "dave", "eve"}

// uuidInside finds a UUID anywhere in a text, in any case.
var uuidInside = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// scrapeResult is one parsed /metrics answer.
type scrapeResult struct {
	families map[string]*metricFamily
	values   map[string]float64
}

// value returns the sample of series (name{label="value"}), failing when it is absent.
func (s scrapeResult) value(t *testing.T, series string) float64 {
	t.Helper()
	value, found := s.values[series]
	if !found {
		t.Fatalf("the scrape has no series %s", series)
	}
	return value
}

// scrapeMetrics fetches /metrics with key, requires a valid exposition that keeps
// wsgate's conventions, and returns it.
func (n *node) scrapeMetrics(key string) scrapeResult {
	n.t.Helper()
	status, body := n.getText("/metrics", key)
	if status != http.StatusOK {
		n.t.Fatalf("GET /metrics: status %d, body %s", status, body)
	}
	families, err := parseExposition(body)
	if err != nil {
		n.t.Fatalf("/metrics is not valid Prometheus text: %v", err)
	}
	checkConventions(n.t, families)
	result := scrapeResult{families: families, values: map[string]float64{}}
	for _, family := range families {
		for _, sample := range family.samples {
			result.values[sample.series()] = sample.value
		}
	}
	return result
}

// buildLabels are the labels of wsgate_build_info: one series per process.
var buildLabels = map[string]bool{"version": true, "commit": true, "go_version": true}

// checkConventions fails the test unless every wsgate_ family has a HELP text and a
// TYPE, counters end in _total and nothing else does, histograms have _sum and
// _count, wsgate_ labels are only reason and le (and the build's on the one
// wsgate_build_info series, source on wsgate_publications_received_total), no label value anywhere looks like
// a connection id or names a test user, and the Go runtime and process families
// are present.
func checkConventions(t *testing.T, families map[string]*metricFamily) {
	t.Helper()
	wsgateFamilies := 0
	for name, family := range families {
		for _, sample := range family.samples {
			for label, value := range sample.labels {
				if uuidInside.MatchString(value) {
					t.Fatalf("%s: label %s=%q looks like a connection id", sample.series(), label, value)
				}
				for _, user := range metricsUsers {
					if strings.Contains(value, user) {
						t.Fatalf("%s: label %s=%q names the user %s", sample.series(), label, value, user)
					}
				}
				if strings.HasPrefix(name, "wsgate_") && label != "reason" && !(label == "le" && family.kind == "histogram") &&
					!(name == "wsgate_build_info" && buildLabels[label]) &&
					!(name == "wsgate_publications_received_total" && label == "source") &&
					!(name == "wsgate_recoveries_total" && label == "result") {
					t.Fatalf("%s: unexpected label %s", sample.series(), label)
				}
			}
		}
		if !strings.HasPrefix(name, "wsgate_") {
			continue
		}
		wsgateFamilies++
		if !family.hasHelp || strings.TrimSpace(family.help) == "" || !family.hasType || family.kind == "untyped" {
			t.Fatalf("family %s lacks a HELP text or a TYPE", name)
		}
		if (family.kind == "counter") != strings.HasSuffix(name, "_total") {
			t.Fatalf("family %s of type %s: counters, and only counters, end in _total", name, family.kind)
		}
		if family.kind == "histogram" {
			names := map[string]bool{}
			for _, sample := range family.samples {
				names[sample.name] = true
			}
			if !names[name+"_sum"] || !names[name+"_count"] {
				t.Fatalf("histogram %s lacks _sum or _count", name)
			}
		}
	}
	if wsgateFamilies < 15 {
		t.Fatalf("only %d wsgate_ families", wsgateFamilies)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Fatalf("the runtime or process family %s is missing", name)
		}
	}
}

// frameSize is the size of an unmasked server frame carrying payload bytes.
func frameSize(payload int) int {
	switch {
	case payload < 126:
		return payload + 2
	case payload < 1<<16:
		return payload + 4
	}
	return payload + 10
}

// trafficTally counts, on the client side, the data messages and bytes a test sent
// and received.
type trafficTally struct {
	t                                        *testing.T
	received, receivedBytes, sent, sentBytes float64
}

// say sends text as a data message the server counts as received.
func (tally *trafficTally) say(conn *websocket.Conn, text string) {
	sendText(tally.t, conn, text)
	tally.received++
	tally.receivedBytes += float64(len(text))
}

// hear reads the next message, which the server counted as sent.
func (tally *trafficTally) hear(conn *websocket.Conn) []byte {
	data := readRaw(tally.t, conn, readTimeout)
	tally.sent++
	tally.sentBytes += float64(frameSize(len(data)))
	return data
}

func TestMetricsCountRealTrafficByReason(t *testing.T) {
	n := startNode(t, gateway.Config{
		InsecureUserID: true,
		// A heartbeat whose first ping (at a random phase within a year) never
		// comes during the test, so that the timers gauge has alice's timer.
		Session: session.Config{MaxConnectionsPerUser: 1, MaxConnections: 4, PingInterval: 365 * 24 * time.Hour},
		Engine:  engine.Config{MaxMessageSize: 1024, HandshakeTimeout: 300 * time.Millisecond},
	})
	before := n.scrapeMetrics("")

	alice := n.dial("alice")
	// The client sees the upgrade answer a moment before the hub registers it.
	waitFor(t, readTimeout, "alice registered", func() bool { return len(n.Hub.UserSessions("alice")) == 1 })
	if code, _ := readClose(t, n.dial("alice"), readTimeout); code != websocket.ClosePolicyViolation {
		t.Fatalf("second connection of alice: close %d, want 1008", code)
	}
	bob, carol, dave := n.dial("bob"), n.dial("carol"), n.dial("dave")
	waitFor(t, readTimeout, "four connections", func() bool { return n.Hub.ConnectionCount() == 4 })
	if code, _ := readClose(t, n.dial("eve"), readTimeout); code != websocket.CloseTryAgainLater {
		t.Fatalf("fifth connection: close %d, want 1013", code)
	}
	if status := n.dialOrigin("https://evil.example"); status != http.StatusForbidden {
		t.Fatalf("foreign origin: status %d, want 403", status)
	}
	silent, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(readTimeout))
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("silent socket: read %v, want EOF after the handshake timeout", err)
	}

	tally := &trafficTally{t: t}
	tally.say(alice, `{"type":"message","content":"hi"}`)
	tally.hear(alice)
	tally.say(bob, `{"type":"broadcast","content":"all"}`)
	for _, conn := range []*websocket.Conn{alice, carol, dave} {
		tally.hear(conn)
	}
	tally.say(carol, `{"type":"hello"}`)
	var welcome message
	if err := json.Unmarshal(tally.hear(carol), &welcome); err != nil || welcome["type"] != "welcome" {
		t.Fatalf("hello: %v %v", welcome, err)
	}
	if status, _ := n.apiCall("POST", "/api/v1/broadcast", "", map[string]any{"message": map[string]any{"n": 1}}); status != http.StatusOK {
		t.Fatalf("API broadcast: status %d", status)
	}
	for _, conn := range []*websocket.Conn{alice, bob, carol, dave} {
		tally.hear(conn)
	}

	if status, _ := n.apiCall("DELETE", "/api/v1/connections/"+welcome["connection_id"].(string), "", nil); status != http.StatusOK {
		t.Fatalf("kick: status %d", status)
	}
	if code, _ := readClose(t, carol, readTimeout); code != 4403 {
		t.Fatalf("kicked: close %d, want 4403", code)
	}
	if err := dave.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	if code, _ := readClose(t, dave, readTimeout); code != websocket.CloseNormalClosure {
		t.Fatalf("client close: echo %d, want 1000", code)
	}
	sendText(t, bob, `{"type":"message","content":"`+strings.Repeat("x", 2000)+`"}`)
	if code, _ := readClose(t, bob, readTimeout); code != websocket.CloseMessageTooBig {
		t.Fatalf("too big: close %d, want 1009", code)
	}

	var after scrapeResult
	waitFor(t, readTimeout, "three disconnects on /metrics", func() bool {
		after = n.scrapeMetrics("")
		return after.values[`wsgate_disconnects_total{reason="too_big"}`] == 1 && after.values["wsgate_connections"] == 1
	})
	moved := map[string]float64{
		`wsgate_connections_accepted_total`:                            4,
		`wsgate_connections_refused_total{reason="limit"}`:             1,
		`wsgate_connections_refused_total{reason="overload"}`:          1,
		`wsgate_connections_refused_total{reason="origin"}`:            1,
		`wsgate_connections_refused_total{reason="handshake_timeout"}`: 1,
		`wsgate_connections_refused_total{reason="unauthorized"}`:      0,
		`wsgate_connections_refused_total{reason="shutdown"}`:          0,
		`wsgate_disconnects_total{reason="kicked"}`:                    1,
		`wsgate_disconnects_total{reason="client_close"}`:              1,
		`wsgate_disconnects_total{reason="too_big"}`:                   1,
		`wsgate_disconnects_total{reason="heartbeat_timeout"}`:         0,
		`wsgate_disconnects_total{reason="error"}`:                     0,
		`wsgate_disconnects_total{reason="slow_consumer"}`:             0,
		`wsgate_disconnects_total{reason="shutdown"}`:                  0,
		`wsgate_messages_received_total`:                               tally.received,
		`wsgate_received_bytes_total`:                                  tally.receivedBytes,
		`wsgate_messages_sent_total`:                                   tally.sent,
		`wsgate_sent_bytes_total`:                                      tally.sentBytes,
		`wsgate_broadcasts_total`:                                      2,
		`wsgate_broadcast_duration_seconds_count`:                      2,
		`wsgate_pings_sent_total`:                                      0,
		`wsgate_ping_round_trip_seconds_count`:                         0,
	}
	for series, want := range moved {
		// A fresh node exports every series at 0 from its first scrape.
		if got, start := after.value(t, series), before.value(t, series); start != 0 || got != want {
			t.Errorf("%s went from %v to %v, want from 0 to %v", series, start, got, want)
		}
	}
	for series, want := range map[string]float64{"wsgate_connections": 1, "wsgate_users": 1, "wsgate_max_connections": 4} {
		if got := after.value(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if pending := after.value(t, "wsgate_timers_pending"); pending < 1 {
		t.Errorf("wsgate_timers_pending = %v, want at least alice's heartbeat timer", pending)
	}
	if started := after.value(t, "wsgate_start_time_seconds"); time.Since(time.Unix(int64(started), 0)).Abs() > time.Minute {
		t.Errorf("wsgate_start_time_seconds = %v, not the start of this test", started)
	}
	checkOperationsGuideListsEveryFamily(t, after.families)
}

// checkOperationsGuideListsEveryFamily fails unless docs/operations.md names every
// wsgate_ family of a scrape.
func checkOperationsGuideListsEveryFamily(t *testing.T, families map[string]*metricFamily) {
	t.Helper()
	guide, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range families {
		if strings.HasPrefix(name, "wsgate_") && !strings.Contains(string(guide), "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe %s", name)
		}
	}
}

func TestMetricsCountHeartbeats(t *testing.T) {
	n := startNode(t, heartbeatConfig())
	live := n.dial("")
	answerer := answerPings(live)
	silent := n.dial("")
	if code, _ := readClose(t, silent, readTimeout); code != 4000 {
		t.Fatalf("silent client: close %d, want 4000", code)
	}
	var scraped scrapeResult
	waitFor(t, readTimeout, "two answered pings, one measured on /metrics", func() bool {
		// Pings answered before the scrape were all counted by it.
		answered := answerer.answered.Load()
		scraped = n.scrapeMetrics("")
		return answered >= 2 && scraped.values["wsgate_ping_round_trip_seconds_count"] >= 1
	})
	if got := scraped.value(t, `wsgate_disconnects_total{reason="heartbeat_timeout"}`); got != 1 {
		t.Errorf("heartbeat_timeout disconnects = %v, want 1", got)
	}
	pings := scraped.value(t, "wsgate_pings_sent_total")
	if pings < 3 {
		t.Errorf("wsgate_pings_sent_total = %v, want the silent client's ping and two answered ones", pings)
	}
	answered := scraped.value(t, "wsgate_ping_round_trip_seconds_count")
	if answered > pings {
		t.Errorf("%v round trips measured for %v pings", answered, pings)
	}
	if mean := scraped.value(t, "wsgate_ping_round_trip_seconds_sum") / answered; !(mean > 0 && mean < time.Second.Seconds()) {
		t.Errorf("mean ping round trip %v s, want between 0 and 1 s on loopback", mean)
	}
	if pending := scraped.value(t, "wsgate_timers_pending"); pending < 1 {
		t.Errorf("wsgate_timers_pending = %v, want the live client's heartbeat timer", pending)
	}
	_ = live.Close()
	<-answerer.done
}

func TestMetricsNeedTheAPIKeyAndShowNoCredentials(t *testing.T) {
	n := jwtNode(t)
	forged := mint(t, jwt.SigningMethodHS256, []byte("a-forged-secret-of-thirty-two-bytes!"), claims("alice", time.Hour))
	if code, _ := readClose(t, n.dialToken(forged), readTimeout); code != 4401 {
		t.Fatalf("forged token: close %d, want 4401", code)
	}
	welcome(t, n.dialToken(validToken(t, "bob")))
	for _, key := range []string{"", "wrong-" + testAPIKey} {
		if status, body := n.getText("/metrics", key); status != http.StatusUnauthorized || strings.Contains(body, testAPIKey) {
			t.Fatalf("/metrics with key %q: status %d, body %s; want 401 without the key", key, status, body)
		}
	}
	scraped := n.scrapeMetrics(testAPIKey)
	if got := scraped.value(t, `wsgate_connections_refused_total{reason="unauthorized"}`); got != 1 {
		t.Errorf("unauthorized refusals = %v, want 1", got)
	}
	_, body := n.getText("/metrics", testAPIKey)
	for name, secret := range map[string]string{"forged token": forged, "API key": testAPIKey, "JWT secret": testJWTSecret} {
		if strings.Contains(body, secret) {
			t.Fatalf("/metrics shows the %s", name)
		}
	}
}
