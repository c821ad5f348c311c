package gateway_test

import (
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/gateway"
)

// TestAConnectionIsRegisteredWhenItsHandshakeEnds: the engine registers a connection
// before it writes the 101, so a backend told "connected" by its client finds the
// connection at once. Checked without waiting, over many connections, because the
// opposite order loses only some of the races.
func TestAConnectionIsRegisteredWhenItsHandshakeEnds(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true})
	for attempt := range 50 {
		user := fmt.Sprintf("user-%d", attempt)
		n.dial(user)
		if got := len(n.Hub.UserSessions(user)); got != 1 {
			t.Fatalf("connection %d: %d sessions registered when the client saw the 101, want 1", attempt, got)
		}
	}
}
