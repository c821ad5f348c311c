package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/buildinfo"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// newTransport returns the transport side of hub, as the engine holds it, for
// opening sessions without sockets.
func newTransport(tb testing.TB, hub *session.Hub) *session.Transport {
	tb.Helper()
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub})
	if err != nil {
		tb.Fatal(err)
	}
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		tb.Fatal(err)
	}
	return transport
}

// apiWithSessions returns an API over a hub (heartbeat off) holding connections
// sessions of distinct users, and the metrics it exposes.
func apiWithSessions(tb testing.TB, connections int) (*API, *Metrics) {
	tb.Helper()
	metrics := NewMetrics()
	hub, err := session.NewHub(session.Config{PingInterval: -1, Observer: metrics})
	if err != nil {
		tb.Fatalf("NewHub: %v", err)
	}
	// The in-memory connections never report their close, so there is nothing to wait for.
	tb.Cleanup(func() { hub.Shutdown(0) })
	transport := newTransport(tb, hub)
	for index := range connections {
		if s := transport.Open(&testsupport.Conn{Discard: true}, session.Identity{UserID: fmt.Sprintf("user-%d", index)}); !s.IsOpen() {
			tb.Fatalf("Open: refused with %s", s.Reason())
		}
	}
	handler, err := New(Config{Hub: hub, Metrics: metrics})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return handler, metrics
}

// scrape returns the body of GET /metrics from a loopback client.
func scrape(t *testing.T, handler http.Handler) string {
	t.Helper()
	request := httptest.NewRequest("GET", "/metrics", nil)
	request.RemoteAddr = "127.0.0.1:9090"
	got := httptest.NewRecorder()
	handler.ServeHTTP(got, request)
	if got.Code != http.StatusOK || !strings.HasPrefix(got.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: status %d, content type %q", got.Code, got.Header().Get("Content-Type"))
	}
	return got.Body.String()
}

// wsgateSeries returns the wsgate_ series of a scrape (name and labels, without the
// value), in order, and their values by series.
func wsgateSeries(text string) ([]string, map[string]string) {
	var series []string
	values := map[string]string{}
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, "wsgate_") {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		series = append(series, name)
		values[name] = value
	}
	return series, values
}

func TestScrapeSeriesDoNotDependOnTheNumberOfConnections(t *testing.T) {
	small, _ := apiWithSessions(t, 10)
	large, _ := apiWithSessions(t, 15000)
	smallSeries, smallValues := wsgateSeries(scrape(t, small))
	largeSeries, largeValues := wsgateSeries(scrape(t, large))
	if len(smallSeries) < 30 || !slices.Equal(smallSeries, largeSeries) {
		t.Fatalf("series differ between 10 and 15,000 connections:\n%v\n%v", smallSeries, largeSeries)
	}
	for series, want := range map[string][2]string{
		"wsgate_connections":                {"10", "15000"},
		"wsgate_users":                      {"10", "15000"},
		"wsgate_connections_accepted_total": {"10", "15000"},
	} {
		if smallValues[series] != want[0] || largeValues[series] != want[1] {
			t.Errorf("%s = %s and %s, want %s and %s", series, smallValues[series], largeValues[series], want[0], want[1])
		}
	}
	for _, series := range smallSeries {
		if strings.Contains(series, "user-") {
			t.Fatalf("series %s carries a user id", series)
		}
	}
}

func TestBuildInfoNamesTheRunningBuild(t *testing.T) {
	handler, _ := apiWithSessions(t, 0)
	text := scrape(t, handler)
	build := buildinfo.Get()
	want := fmt.Sprintf("# TYPE wsgate_build_info gauge\nwsgate_build_info{version=%q,commit=%q,go_version=%q} 1\n",
		build.Version, build.Commit, build.GoVersion)
	if !strings.Contains(text, want) {
		t.Fatalf("the scrape lacks\n%s", want)
	}
}

func TestObservationsReachTheHistograms(t *testing.T) {
	handler, metrics := apiWithSessions(t, 1)
	metrics.BroadcastDone(1, 2*time.Millisecond)
	metrics.BroadcastDone(1, 20*time.Second)
	metrics.PingAnswered(7 * time.Millisecond)
	_, values := wsgateSeries(scrape(t, handler))
	for series, want := range map[string]string{
		`wsgate_broadcast_duration_seconds_bucket{le="0.001"}`:  "0",
		`wsgate_broadcast_duration_seconds_bucket{le="0.0025"}`: "1",
		`wsgate_broadcast_duration_seconds_bucket{le="10"}`:     "1",
		`wsgate_broadcast_duration_seconds_bucket{le="+Inf"}`:   "2",
		`wsgate_broadcast_duration_seconds_count`:               "2",
		`wsgate_broadcast_duration_seconds_sum`:                 "20.002",
		`wsgate_ping_round_trip_seconds_bucket{le="0.005"}`:     "0",
		`wsgate_ping_round_trip_seconds_bucket{le="0.01"}`:      "1",
		`wsgate_ping_round_trip_seconds_count`:                  "1",
	} {
		if values[series] != want {
			t.Errorf("%s = %q, want %s", series, values[series], want)
		}
	}
}

func TestRefusalsAndDisconnectsAreCountedByReason(t *testing.T) {
	metrics := NewMetrics()
	hub, err := session.NewHub(session.Config{PingInterval: -1, MaxConnectionsPerUser: 1, Observer: metrics})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() { hub.Shutdown(0) })
	transport := newTransport(t, hub)
	kept := transport.Open(&testsupport.Conn{Discard: true}, session.Identity{UserID: "alice"})
	if !kept.IsOpen() {
		t.Fatalf("Open: refused with %s", kept.Reason())
	}
	if transport.Open(&testsupport.Conn{Discard: true}, session.Identity{UserID: "alice"}).IsOpen() {
		t.Fatal("a second connection of alice was accepted over the limit of 1")
	}
	transport.Refuse(&testsupport.Conn{Discard: true}, session.ReasonUnauthorized)
	kept.Close(session.ReasonKicked)
	handler, err := New(Config{Hub: hub, Metrics: metrics})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, values := wsgateSeries(scrape(t, handler))
	for series, want := range map[string]string{
		`wsgate_connections_refused_total{reason="limit"}`:        "1",
		`wsgate_connections_refused_total{reason="unauthorized"}`: "1",
		`wsgate_connections_refused_total{reason="overload"}`:     "0",
		`wsgate_disconnects_total{reason="kicked"}`:               "1",
		`wsgate_disconnects_total{reason="heartbeat_timeout"}`:    "0",
		`wsgate_connections_accepted_total`:                       "1",
		`wsgate_connections`:                                      "0",
	} {
		if values[series] != want {
			t.Errorf("%s = %q, want %s", series, values[series], want)
		}
	}
	if _, found := values[`wsgate_disconnects_total{reason="limit"}`]; found {
		t.Error("a reason that never ended a connection is listed among the disconnects")
	}
}
