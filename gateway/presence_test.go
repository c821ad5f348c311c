package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/gateway"
)

// presenceNamespaces: "room" keeps presence and sends join/leave, "quiet" keeps
// presence without events, "plain" neither.
var presenceNamespaces = []channels.NamespaceOptions{
	{Name: "room", Presence: true, JoinLeave: true},
	{Name: "quiet", Presence: true},
	{Name: "plain"},
}

// startPresenceNode starts a node with presenceNamespaces where clients name their
// user (?user_id=).
func startPresenceNode(t *testing.T, config gateway.PresenceConfig) *node {
	return startNode(t, gateway.Config{InsecureUserID: true, Namespaces: presenceNamespaces, Presence: config})
}

// waitPresence waits until channel's presence counts are users and connections.
func (n *node) waitPresence(channel string, users, connections int) {
	n.t.Helper()
	n.waitPresenceFor(5*time.Second, channel, users, connections)
}

// waitPresenceFor is waitPresence waiting at most timeout.
func (n *node) waitPresenceFor(timeout time.Duration, channel string, users, connections int) {
	n.t.Helper()
	waitFor(n.t, timeout, fmt.Sprintf("%s to hold %d users with %d connections", channel, users, connections), func() bool {
		gotUsers, gotConnections, err := n.Publisher.PresenceStats(context.Background(), channel)
		if err != nil {
			n.t.Fatalf("PresenceStats: %v", err)
		}
		return gotUsers == users && gotConnections == connections
	})
}

// expectEvent requires the next message of conn to be a join or leave of user in
// channel.
func expectEvent(t *testing.T, conn *websocket.Conn, messageType, channel, user string) {
	t.Helper()
	got := readMessage(t, conn, readTimeout)
	if got["type"] != messageType || got["channel"] != channel || got["user"] != user || len(got) != 3 {
		t.Fatalf("got %v, want %s of %q in %q", got, messageType, user, channel)
	}
}

// subscribeAndJoin subscribes conn, of user, to channel, a join_leave channel
// the user is not in yet: the answer and the user's own join arrive, in either
// order (the join goes out from the events goroutine, like a publication that may
// come before "subscribed").
func subscribeAndJoin(t *testing.T, conn *websocket.Conn, channel, user string) {
	t.Helper()
	send(t, conn, map[string]any{"type": "subscribe", "channel": channel})
	got := []message{readMessage(t, conn, readTimeout), readMessage(t, conn, readTimeout)}
	if got[0]["type"] == "join" {
		got[0], got[1] = got[1], got[0]
	}
	if got[0]["type"] != "subscribed" || got[0]["channel"] != channel || got[1]["type"] != "join" ||
		got[1]["channel"] != channel || got[1]["user"] != user {
		t.Fatalf("subscribe %q: got %v, want subscribed and the join of %s", channel, got, user)
	}
}

// TestJoinAndLeaveArePerUserNotPerConnection: a user's second connection does not
// join again, closing one of two does not leave, closing the last does; presence
// follows the connections, and a disconnect removes it.
func TestJoinAndLeaveArePerUserNotPerConnection(t *testing.T) {
	n := startPresenceNode(t, gateway.PresenceConfig{})
	watcher := n.dial("watcher")
	subscribeAndJoin(t, watcher, "room:1", "watcher")

	first := n.dial("alice")
	subscribeAndJoin(t, first, "room:1", "alice")
	expectEvent(t, watcher, "join", "room:1", "alice")
	second := n.dial("alice")
	subscribeTo(t, second, "room:1")
	n.waitPresence("room:1", 2, 3)
	expectNothingPending(t, watcher)

	_ = first.Close()
	n.waitPresence("room:1", 2, 2)
	expectNothingPending(t, watcher)
	_ = second.Close()
	expectEvent(t, watcher, "leave", "room:1", "alice")
	n.waitPresence("room:1", 1, 1)

	// An unsubscribe leaves as a disconnect does; anonymous connections are not
	// present and cause no event.
	anonymous := n.dial("")
	subscribeTo(t, anonymous, "room:1")
	n.waitPresence("room:1", 1, 1)
	if got := request(t, watcher, map[string]any{"type": "unsubscribe", "channel": "room:1"}); got["type"] != "unsubscribed" {
		t.Fatalf("got %v, want unsubscribed", got)
	}
	expectEvent(t, anonymous, "leave", "room:1", "watcher")
	n.waitPresence("room:1", 0, 0)
	expectNothingPending(t, watcher)

	// A namespace with presence but without join_leave sends no event.
	quiet := n.dial("carol")
	subscribeTo(t, quiet, "quiet:1")
	subscribeTo(t, n.dial("dave"), "quiet:1")
	n.waitPresence("quiet:1", 2, 2)
	expectNothingPending(t, quiet)
	if counts := n.Publisher.PresenceCountsOf(); counts.EventsSent != 4 {
		t.Fatalf("events sent %d, want 4: two joins and two leaves", counts.EventsSent)
	}
}

// TestPresenceQueriesFromClients: a subscribed client reads the presence page by
// page and the counts; the errors carry their codes, the channel and the id.
func TestPresenceQueriesFromClients(t *testing.T) {
	n := startPresenceNode(t, gateway.PresenceConfig{})
	reader := n.dial("reader")
	subscribeTo(t, reader, "quiet:q")
	for user := range 4 {
		conn := n.dial(fmt.Sprint("user", user))
		subscribeTo(t, conn, "quiet:q")
		if user == 0 {
			subscribeTo(t, n.dial("user0"), "quiet:q")
		}
	}
	n.waitPresence("quiet:q", 5, 6)

	stats := request(t, reader, map[string]any{"type": "presence_stats", "channel": "quiet:q", "id": 9})
	if stats["type"] != "presence_stats" || stats["channel"] != "quiet:q" || stats["users"] != float64(5) ||
		stats["connections"] != float64(6) || stats["id"] != float64(9) || len(stats) != 5 {
		t.Fatalf("stats %v", stats)
	}
	seen := map[string]float64{}
	cursor, pages := "", 0
	for {
		fields := map[string]any{"type": "presence", "channel": "quiet:q", "limit": 2, "id": "p"}
		if cursor != "" {
			fields["cursor"] = cursor
		}
		page := request(t, reader, fields)
		if page["type"] != "presence" || page["id"] != "p" || page["total_users"] != float64(5) || page["total_connections"] != float64(6) {
			t.Fatalf("page %v", page)
		}
		users := page["users"].(map[string]any)
		if len(users) > 2 {
			t.Fatalf("page of %d users, limit 2: %v", len(users), page)
		}
		for user, connections := range users {
			if _, twice := seen[user]; twice {
				t.Fatalf("user %s listed twice", user)
			}
			seen[user] = connections.(float64)
		}
		pages++
		cursor = page["cursor"].(string)
		if cursor == "" {
			break
		}
	}
	want := map[string]float64{"reader": 1, "user0": 2, "user1": 1, "user2": 1, "user3": 1}
	if fmt.Sprint(seen) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("walked %v in %d pages, want %v in 3", seen, pages, want)
	}
	whole := request(t, reader, map[string]any{"type": "presence", "channel": "quiet:q"})
	if len(whole["users"].(map[string]any)) != 5 || whole["cursor"] != "" || whole["id"] != nil {
		t.Fatalf("default page %v", whole)
	}

	expectRefusal(t, request(t, reader, map[string]any{"type": "presence", "channel": "quiet:other", "id": 1}), "not_subscribed", "quiet:other", float64(1))
	subscribeTo(t, reader, "plain:p")
	expectRefusal(t, request(t, reader, map[string]any{"type": "presence_stats", "channel": "plain:p"}), "presence_not_enabled", "plain:p", nil)
	expectRefusal(t, request(t, reader, map[string]any{"type": "presence", "channel": "quiet:q", "cursor": "!"}), "invalid_cursor", "quiet:q", nil)
	expectRefusal(t, request(t, reader, map[string]any{"type": "presence", "channel": "quiet:q", "limit": 0}), "invalid_field", "quiet:q", nil)
	expectRefusal(t, request(t, reader, map[string]any{"type": "presence", "channel": "bad name"}), "invalid_channel", "bad name", nil)
}

// TestPresenceAPI: the channel endpoints page and count, the user endpoints say
// who is online; errors are the API's JSON errors.
func TestPresenceAPI(t *testing.T) {
	n := startPresenceNode(t, gateway.PresenceConfig{})
	for user := range 3 {
		subscribeTo(t, n.dial(fmt.Sprint("u", user)), "quiet:api")
	}
	subscribeTo(t, n.dial("u0"), "quiet:api")
	n.dial("idle")
	n.waitPresence("quiet:api", 3, 4)

	status, body := n.apiCall("GET", "/api/v1/channels/quiet:api/presence/stats", "", nil)
	if status != http.StatusOK || body["users"] != float64(3) || body["connections"] != float64(4) || body["channel"] != "quiet:api" {
		t.Fatalf("stats: status %d, body %v", status, body)
	}
	status, body = n.apiCall("GET", "/api/v1/channels/quiet:api/presence?limit=2", "", nil)
	first, _ := body["users"].(map[string]any)
	if status != http.StatusOK || len(first) != 2 || body["cursor"] == "" || body["total_users"] != float64(3) ||
		body["total_connections"] != float64(4) {
		t.Fatalf("first page: status %d, body %v", status, body)
	}
	status, body = n.apiCall("GET", "/api/v1/channels/quiet:api/presence?limit=2&cursor="+body["cursor"].(string), "", nil)
	second, _ := body["users"].(map[string]any)
	if status != http.StatusOK || len(second) != 1 || body["cursor"] != "" {
		t.Fatalf("second page: status %d, body %v", status, body)
	}
	for user := range second {
		if _, twice := first[user]; twice {
			t.Fatalf("user %s on both pages", user)
		}
	}
	for _, test := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/channels/plain:x/presence", http.StatusNotFound, "presence_not_enabled"},
		{"/api/v1/channels/plain:x/presence/stats", http.StatusNotFound, "presence_not_enabled"},
		{"/api/v1/channels/quiet:api/presence?limit=0", http.StatusBadRequest, "invalid_limit"},
		{"/api/v1/channels/quiet:api/presence?limit=1001", http.StatusBadRequest, "invalid_limit"},
		{"/api/v1/channels/quiet:api/presence?cursor=zz-", http.StatusBadRequest, "invalid_cursor"},
		{"/api/v1/channels/a%20b/presence", http.StatusBadRequest, "invalid_channel"},
	} {
		if status, body := n.apiCall("GET", test.path, "", nil); status != test.status || body["error"] != test.code || body["message"] == "" {
			t.Errorf("GET %s: status %d, body %v; want %d %s", test.path, status, body, test.status, test.code)
		}
	}

	status, body = n.apiCall("GET", "/api/v1/users/u0/presence", "", nil)
	if status != http.StatusOK || body["user"] != "u0" || body["online"] != true || body["connections"] != float64(2) {
		t.Fatalf("user u0: status %d, body %v", status, body)
	}
	status, body = n.apiCall("POST", "/api/v1/users/presence", "", `{"users":["idle","nobody","u1"]}`)
	if status != http.StatusOK || fmt.Sprint(body["users"]) !=
		"[map[connections:1 online:true user:idle] map[connections:0 online:false user:nobody] map[connections:1 online:true user:u1]]" {
		t.Fatalf("batch: status %d, body %v", status, body)
	}
	tooMany := make([]string, 1001)
	for index := range tooMany {
		tooMany[index] = fmt.Sprint("u", index)
	}
	for _, test := range []struct {
		body any
		code string
	}{
		{map[string]any{"users": tooMany}, "too_many_users"},
		{`{}`, "missing_users"},
		{`{"users":[""]}`, "invalid_user"},
		{`{"users":"u1"}`, "invalid_json"},
	} {
		if status, body := n.apiCall("POST", "/api/v1/users/presence", "", test.body); status != http.StatusBadRequest || body["error"] != test.code {
			t.Errorf("batch %v: status %d, body %v; want 400 %s", test.code, status, body, test.code)
		}
	}
}

// TestAPIKeyGuardsThePresenceRoutes: the presence routes take the API key like the
// other API routes.
func TestAPIKeyGuardsThePresenceRoutes(t *testing.T) {
	n := startNode(t, gateway.Config{APIKey: "k3y-k3y-k3y-k3y", Namespaces: presenceNamespaces})
	for _, route := range [][2]string{{"GET", "/api/v1/channels/quiet:a/presence"}, {"GET", "/api/v1/channels/quiet:a/presence/stats"},
		{"GET", "/api/v1/users/u/presence"}, {"POST", "/api/v1/users/presence"}} {
		if status, body := n.apiCall(route[0], route[1], "", `{"users":[]}`); status != http.StatusUnauthorized {
			t.Errorf("%s %s without the key: status %d, body %v", route[0], route[1], status, body)
		}
		if status, body := n.apiCall(route[0], route[1], "k3y-k3y-k3y-k3y", `{"users":[]}`); status != http.StatusOK {
			t.Errorf("%s %s with the key: status %d, body %v", route[0], route[1], status, body)
		}
	}
}

// stormWatcher counts what one subscriber receives during a storm.
type stormWatcher struct {
	messages, joinMessages, diffs int
	// joined counts every user whose join reached the watcher, by message or
	// listed in a diff; counted sums the diffs that carried counts only.
	joined  map[string]int
	counted int
}

// watch reads conn until it has seen want joins (by name or count) or timeout.
func (w *stormWatcher) watch(t *testing.T, conn *websocket.Conn, want int, timeout time.Duration) {
	t.Helper()
	w.joined = map[string]int{}
	deadline := time.Now().Add(timeout)
	for len(w.joined)+w.counted < want {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d joins seen (%d named, %d counted), want %d", timeout, len(w.joined)+w.counted,
				len(w.joined), w.counted, want)
		}
		got := readMessage(t, conn, time.Until(deadline))
		w.messages++
		switch got["type"] {
		case "join":
			w.joinMessages++
			w.joined[got["user"].(string)]++
		case "presence_diff":
			w.diffs++
			if joins, listed := got["joins"].([]any); listed {
				for _, user := range joins {
					w.joined[user.(string)]++
				}
			} else {
				w.counted += int(got["join_count"].(float64))
			}
		default:
			t.Fatalf("during the storm: %v", got)
		}
	}
	for user, times := range w.joined {
		if times != 1 {
			t.Fatalf("user %s joined %d times", user, times)
		}
	}
}

// TestJoinStormIsCoalesced: users join one channel at once (every one of them a
// subscriber, so each receives the others' joins): each subscriber receives at
// most 2 × JoinLeaveRate joins and a diff per period, and every join exactly once,
// by name or in a diff's count (2,000 users, diffs of counts), or by name only
// (500 users, diffs listing them).
func TestJoinStormIsCoalesced(t *testing.T) {
	const rate = 10
	period := 200 * time.Millisecond
	for _, test := range []struct{ users, maxUsers int }{{2000, 50}, {500, 1000}} {
		users, maxUsers := test.users, test.maxUsers
		t.Run(fmt.Sprint(users, " users, diffs up to ", maxUsers), func(t *testing.T) {
			n := startPresenceNode(t, gateway.PresenceConfig{JoinLeaveRate: rate, DiffPeriod: period, DiffMaxUsers: maxUsers})
			watcher := n.dial("watcher")
			subscribeAndJoin(t, watcher, "room:storm", "watcher")
			conns := make([]*websocket.Conn, users)
			for index := range conns {
				conns[index] = n.dial(fmt.Sprint("user", index))
			}
			started := time.Now()
			var group sync.WaitGroup
			for worker := range 20 {
				group.Add(1)
				go func() {
					defer group.Done()
					for index := worker; index < users; index += 20 {
						_ = conns[index].WriteJSON(map[string]any{"type": "subscribe", "channel": "room:storm"})
					}
				}()
			}
			group.Wait()
			n.waitPresenceFor(time.Minute, "room:storm", users+1, users+1)
			stormTime := time.Since(started)
			var seen stormWatcher
			seen.watch(t, watcher, users, time.Minute)
			elapsed := time.Since(started)
			bound := 2*rate + int(elapsed/period) + 2
			t.Logf("storm of %d joins in %v: the watcher got %d messages (%d joins, %d diffs) in %v; bound %d",
				users, stormTime.Round(time.Millisecond), seen.messages, seen.joinMessages, seen.diffs, elapsed.Round(time.Millisecond), bound)
			if seen.messages > bound || seen.joinMessages > 2*rate {
				t.Fatalf("%d messages (%d joins), want at most %d (%d joins)", seen.messages, seen.joinMessages, bound, 2*rate)
			}
			if maxUsers < users && seen.counted == 0 {
				t.Fatalf("no diff carried counts only, with %d users above %d", users, maxUsers)
			}
			if maxUsers >= users && len(seen.joined) != users {
				t.Fatalf("%d users named, want all %d", len(seen.joined), users)
			}
		})
	}
}
