package gateway_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// connectionRecords are the log messages about one connection; each must say which
// connection, whose, and from where.
var connectionRecords = map[string]bool{
	"connected": true, "disconnected": true, "connection refused": true, "connection kicked": true,
}

func TestConnectionLogsCarryConnectionUserAndAddress(t *testing.T) {
	var logs testsupport.SyncBuffer
	n := startNode(t, gateway.Config{
		InsecureUserID: true,
		Session:        session.Config{MaxConnectionsPerUser: 1},
		Logger:         slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	alice := n.dial("alice")
	// The client sees the upgrade answer a moment before the hub registers it.
	waitFor(t, readTimeout, "alice registered", func() bool { return len(n.Hub.UserSessions("alice")) == 1 })
	aliceID := welcome(t, alice)["connection_id"].(string)
	if code, _ := readClose(t, n.dial("alice"), readTimeout); code != websocket.ClosePolicyViolation {
		t.Fatalf("second connection of alice: close %d, want 1008", code)
	}
	bob := n.dial("bob")
	if err := bob.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	readClose(t, bob, readTimeout)
	if status, _ := n.apiCall("DELETE", "/api/v1/connections/"+aliceID, "", nil); status != http.StatusOK {
		t.Fatalf("kick: status %d", status)
	}
	readClose(t, alice, readTimeout)

	counts := map[string]int{}
	waitFor(t, readTimeout, "two disconnect records", func() bool { return strings.Count(logs.String(), `"msg":"disconnected"`) == 2 })
	for line := range strings.Lines(logs.String()) {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		text, _ := record["msg"].(string)
		if !connectionRecords[text] {
			continue
		}
		counts[text]++
		connectionID, _ := record["connection_id"].(string)
		userID, _ := record["user_id"].(string)
		address, _ := record["remote_addr"].(string)
		if !uuidPattern.MatchString(connectionID) || (userID != "alice" && userID != "bob") ||
			!strings.HasPrefix(address, "127.0.0.1:") {
			t.Errorf("record %q lacks the connection id, user id or remote address: %s", text, line)
		}
		if userID == "alice" && text != "connection refused" && connectionID != aliceID {
			t.Errorf("record %q of alice names connection %s, not %s", text, connectionID, aliceID)
		}
	}
	for text, want := range map[string]int{"connected": 2, "connection refused": 1, "disconnected": 2, "connection kicked": 1} {
		if counts[text] != want {
			t.Errorf("%d %q records, want %d", counts[text], text, want)
		}
	}
}
