package gateway_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
)

// TestBatchPublishFailsABadItemAlone: results come in order; the bad items carry
// their error objects and the good ones are delivered.
func TestBatchPublishFailsABadItemAlone(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	subscribeTo(t, conn, "ticker:a")
	subscribeTo(t, conn, "ticker:b")
	status, body := n.apiCall("POST", "/api/v1/publish", "", `{"publications":[
		{"channel":"ticker:a","data":{"p": 1}},
		{"channel":"bad name","data":1},
		{"channel":"ticker:b"},
		{"channel":"ticker:b","data":[2]},
		{"channel":"nobody","data":3}]}`)
	if status != http.StatusOK {
		t.Fatalf("status %d, body %v", status, body)
	}
	results, _ := body["results"].([]any)
	want := []string{"queued 1", "error invalid_channel", "error missing_data", "queued 1", "queued 0"}
	if len(results) != len(want) {
		t.Fatalf("results %v, want %d", results, len(want))
	}
	for position, raw := range results {
		result := raw.(map[string]any)
		got := fmt.Sprint("queued ", result["queued"])
		if code, failed := result["error"]; failed {
			got = fmt.Sprint("error ", code)
			if result["message"] == "" || len(result) != 2 {
				t.Errorf("result %d: %v, want an error object alone", position, result)
			}
		} else if len(result) != 1 {
			t.Errorf("result %d: %v, want queued alone on a single node", position, result)
		}
		if got != want[position] {
			t.Errorf("result %d: %v, want %s", position, result, want[position])
		}
	}
	if got := string(readRaw(t, conn, readTimeout)); got != `{"type":"publication","channel":"ticker:a","data":{"p": 1}}` {
		t.Fatalf("first publication %s", got)
	}
	if got := string(readRaw(t, conn, readTimeout)); got != `{"type":"publication","channel":"ticker:b","data":[2]}` {
		t.Fatalf("second publication %s", got)
	}
	expectNothingPending(t, conn)

	tooMany := `{"publications":[` + strings.Repeat(`{"channel":"a","data":1},`, 1000) + `{"channel":"a","data":1}]}`
	if status, body := n.apiCall("POST", "/api/v1/publish", "", tooMany); status != http.StatusBadRequest || body["error"] != "too_many_publications" {
		t.Fatalf("1001 publications: status %d, body %v", status, body)
	}
	if status, body := n.apiCall("POST", "/api/v1/publish", "", `{}`); status != http.StatusBadRequest || body["error"] != "missing_publications" {
		t.Fatalf("no list: status %d, body %v", status, body)
	}
	if status, body := n.apiCall("POST", "/api/v1/channels/news/publish", "", `{"content":1}`); status != http.StatusBadRequest || body["error"] != "missing_data" {
		t.Fatalf("no data: status %d, body %v", status, body)
	}
}

// TestServerSideSubscriptionsByUserAndConnection: every connection of the user is
// subscribed and told; an unsubscribe carries the reason; a connection is reached
// by its id; an unknown connection is 404.
func TestServerSideSubscriptionsByUserAndConnection(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true})
	first, second, other := n.dial("alice"), n.dial("alice"), n.dial("bob")
	// The client sees the upgrade answer a moment before the hub registers the
	// connection; a welcome round trip proves both of alice's are registered.
	welcome(t, first)
	welcome(t, second)
	status, body := n.apiCall("POST", "/api/v1/users/alice/subscribe", "", map[string]any{"channel": "team:1"})
	if status != http.StatusOK || body["connections"] != float64(2) || len(body) != 1 {
		t.Fatalf("subscribe alice: status %d, body %v", status, body)
	}
	for _, conn := range []*websocket.Conn{first, second} {
		if got := readMessage(t, conn, readTimeout); got["type"] != "subscribed" || got["channel"] != "team:1" || len(got) != 2 {
			t.Fatalf("got %v, want subscribed", got)
		}
	}
	if queued := n.publishAPI("team:1", `"go"`); queued != 2 {
		t.Fatalf("queued %d, want alice's 2 connections", queued)
	}
	for _, conn := range []*websocket.Conn{first, second} {
		if got := readMessage(t, conn, readTimeout); got["type"] != "publication" || got["data"] != "go" {
			t.Fatalf("got %v, want the publication", got)
		}
	}
	status, body = n.apiCall("POST", "/api/v1/users/alice/unsubscribe", "", map[string]any{"channel": "team:1", "reason": "left the team"})
	if status != http.StatusOK || body["connections"] != float64(2) {
		t.Fatalf("unsubscribe alice: status %d, body %v", status, body)
	}
	for _, conn := range []*websocket.Conn{first, second} {
		if got := readMessage(t, conn, readTimeout); got["type"] != "unsubscribed" || got["reason"] != "left the team" {
			t.Fatalf("got %v, want unsubscribed with the reason", got)
		}
	}

	id := welcome(t, other)["connection_id"].(string)
	path := "/api/v1/connections/" + id
	if status, body := n.apiCall("POST", path+"/subscribe", "", map[string]any{"channel": "solo"}); status != http.StatusOK || body["connections"] != float64(1) {
		t.Fatalf("subscribe connection: status %d, body %v", status, body)
	}
	if got := readMessage(t, other, readTimeout); got["type"] != "subscribed" || got["channel"] != "solo" {
		t.Fatalf("got %v", got)
	}
	if status, _ := n.apiCall("POST", path+"/unsubscribe", "", map[string]any{"channel": "solo"}); status != http.StatusOK {
		t.Fatalf("unsubscribe connection: status %d", status)
	}
	if got := readMessage(t, other, readTimeout); got["type"] != "unsubscribed" || got["reason"] != "unsubscribed by the server" {
		t.Fatalf("got %v, want the default reason", got)
	}
	for _, test := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/api/v1/connections/" + strings.Repeat("0", 8) + "-0000-4000-8000-000000000000/subscribe", `{"channel":"c"}`, http.StatusNotFound, "connection_not_found"},
		{"/api/v1/users/alice/subscribe", `{"channel":"a b"}`, http.StatusBadRequest, "invalid_channel"},
		{"/api/v1/users/alice/subscribe", `{}`, http.StatusBadRequest, "invalid_channel"},
		{"/api/v1/users/alice/unsubscribe", `{"channel":"c","reason":"` + strings.Repeat("x", 256) + `"}`, http.StatusBadRequest, "invalid_reason"},
	} {
		if status, body := n.apiCall("POST", test.path, "", test.body); status != test.status || body["error"] != test.code {
			t.Errorf("POST %s %s: status %d, body %v; want %d %s", test.path, test.body, status, body, test.status, test.code)
		}
	}
	expectNothingPending(t, first)
}

// TestChannelNamesTravelEscapedInPaths: names with ':', '/', '#', '%', '?', '+'
// and non-ASCII reach the handlers whole.
func TestChannelNamesTravelEscapedInPaths(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	names := []string{"chat:room/1", "a#b", "100%", "q?x=1&y", "plus+sign", "ünïcødé:日本", "x/../y", "%2F"}
	for _, name := range names {
		subscribeTo(t, conn, name)
	}
	for _, name := range names {
		if queued := n.publishAPI(name, `"`+url.QueryEscape(name)+`"`); queued != 1 {
			t.Errorf("publish to %q: queued %d, want 1", name, queued)
			continue
		}
		if got := readMessage(t, conn, readTimeout); got["channel"] != name {
			t.Errorf("publication for %q arrived as %v", name, got)
		}
		var counts map[string]any
		if status := getJSON(t, n.httpURL("/api/v1/channels/"+url.PathEscape(name)), &counts); status != http.StatusOK ||
			counts["channel"] != name || counts["subscribers"] != float64(1) || counts["users"] != float64(0) {
			t.Errorf("counts of %q: status %d, %v", name, status, counts)
		}
	}
	// A name of dots alone must have them escaped too (url.PathEscape and
	// encodeURIComponent leave them), or the path is refused as unclean.
	subscribeTo(t, conn, "..")
	if status, body := n.apiCall("POST", "/api/v1/channels/%2E%2E/publish", "", `{"data":1}`); status != http.StatusOK || body["queued"] != float64(1) {
		t.Fatalf("publish to %q: status %d, body %v", "..", status, body)
	}
	if status, _ := n.apiCall("POST", "/api/v1/channels/../publish", "", `{"data":1}`); status != http.StatusNotFound {
		t.Fatalf("unescaped dots: status %d, want 404", status)
	}
	if got := readMessage(t, conn, readTimeout); got["channel"] != ".." {
		t.Fatalf("got %v", got)
	}
}

// TestChannelListingByPrefixAndLimit: top by subscribers, a prefix, a limit with
// truncation, the refused scopes and limits, and ?scope=cluster on a node without
// a cluster (a cluster of one).
func TestChannelListingByPrefixAndLimit(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conns := []*websocket.Conn{n.dial(""), n.dial(""), n.dial("")}
	for position, conn := range conns {
		subscribeTo(t, conn, "room:big")
		if position > 0 {
			subscribeTo(t, conn, "room:mid")
		}
		if position > 1 {
			subscribeTo(t, conn, "other")
		}
	}
	var listing struct {
		Channels []struct {
			Channel     string `json:"channel"`
			Subscribers int    `json:"subscribers"`
		} `json:"channels"`
		Truncated bool `json:"truncated"`
	}
	getJSON(t, n.httpURL("/api/v1/channels?prefix=room:&limit=1"), &listing)
	if len(listing.Channels) != 1 || listing.Channels[0].Channel != "room:big" || listing.Channels[0].Subscribers != 3 || !listing.Truncated {
		t.Fatalf("listing %+v, want room:big with 3, truncated", listing)
	}
	getJSON(t, n.httpURL("/api/v1/channels?scope=node"), &listing)
	if got := fmt.Sprint(listing.Channels); got != "[{room:big 3} {room:mid 2} {other 1}]" || listing.Truncated {
		t.Fatalf("listing %s, truncated %v", got, listing.Truncated)
	}
	for _, path := range []string{"?limit=0", "?limit=x", "?limit=10001", "?scope=galaxy", "/other?scope=galaxy"} {
		var refusal map[string]any
		if status := getJSON(t, n.httpURL("/api/v1/channels"+path), &refusal); status != http.StatusBadRequest || refusal["error"] == nil {
			t.Errorf("%s: status %d, body %v; want 400", path, status, refusal)
		}
	}
	var clusterListing map[string]any
	if status := getJSON(t, n.httpURL("/api/v1/channels?prefix=room:&limit=1&scope=cluster"), &clusterListing); status != http.StatusOK ||
		fmt.Sprint(clusterListing) != "map[channels:[map[channel:room:big subscribers:3]] nodes:1 scope:cluster truncated:true]" {
		t.Errorf("listing in a cluster of one: status %d, body %v", status, clusterListing)
	}
	for channel, subscribers := range map[string]float64{"room:big": 3, "nobody": 0} {
		var body map[string]any
		if status := getJSON(t, n.httpURL("/api/v1/channels/"+channel+"?scope=cluster"), &body); status != http.StatusOK ||
			body["channel"] != channel || body["scope"] != "cluster" || body["nodes"] != float64(1) ||
			body["subscribers"] != subscribers || len(body) != 5 {
			t.Errorf("%s in a cluster of one: status %d, body %v, want %v subscribers on 1 node", channel, status, body, subscribers)
		}
	}
}

// TestMetricsCountChannels: the channel families are exported from the first
// scrape, move with subscriptions, publications and refusals, and carry no channel
// name.
func TestMetricsCountChannels(t *testing.T) {
	n := startNode(t, gateway.Config{})
	before := n.scrapeMetrics("")
	conn := n.dial("")
	subscribeTo(t, conn, "secret-name-a")
	subscribeTo(t, conn, "secret-name-b")
	expectRefusal(t, request(t, conn, map[string]any{"type": "subscribe", "channel": "secret-name-a"}), "already_subscribed", "secret-name-a", nil)
	expectRefusal(t, request(t, conn, map[string]any{"type": "publish", "channel": "secret-name-a", "data": 1}), "publish_not_allowed", "secret-name-a", nil)
	n.publishAPI("secret-name-a", "1")
	readMessage(t, conn, readTimeout)
	after := n.scrapeMetrics("")
	for series, want := range map[string]float64{
		`wsgate_channels`:      2,
		`wsgate_subscriptions`: 2,
		`wsgate_publications_received_total{source="api"}`:             1,
		`wsgate_publications_received_total{source="client"}`:          0,
		`wsgate_publications_received_total{source="cluster"}`:         0,
		`wsgate_publications_delivered_total`:                          1,
		`wsgate_subscribe_refusals_total{reason="already_subscribed"}`: 1,
		`wsgate_subscribe_refusals_total{reason="permission_denied"}`:  0,
		`wsgate_publish_refusals_total{reason="publish_not_allowed"}`:  1,
		`wsgate_broadcast_refusals_total`:                              0,
	} {
		if got, start := after.value(t, series), before.value(t, series); start != 0 || got != want {
			t.Errorf("%s went from %v to %v, want from 0 to %v", series, start, got, want)
		}
	}
	if _, body := n.getText("/metrics", ""); strings.Contains(body, "secret-name") {
		t.Fatal("a channel name appears in /metrics")
	}
	checkOperationsGuideListsEveryFamily(t, after.families)
}
