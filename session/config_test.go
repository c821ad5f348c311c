package session

import (
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// TestZeroConfigMeansTheBinarysDefaults: a zero Config limits users to 5
// connections and 100 messages a second with a 30 s heartbeat, as wsgate does
// without flags; Unlimited and Off say otherwise.
func TestZeroConfigMeansTheBinarysDefaults(t *testing.T) {
	zero, err := NewHub(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zero.Shutdown(0) })
	effective := zero.Config()
	if effective.MaxConnectionsPerUser != 5 || effective.MaxMessagesPerSecond != 100 || effective.MessageBurst != 200 ||
		effective.PingInterval != 30*time.Second || effective.PingTimeout != 10*time.Second ||
		effective.MaxConnections != Unlimited || effective.MaxPendingBytes != 1<<20 ||
		effective.MaxFanoutDelay != 250*time.Millisecond {
		t.Fatalf("effective zero config %+v", effective)
	}
	hub := newTestHub(t, Config{})
	for range 5 {
		mustOpen(t, hub, &testsupport.Conn{}, "ada")
	}
	if s := testTransport(hub).Open(&testsupport.Conn{}, Identity{UserID: "ada"}); s.Reason() != ReasonLimit {
		t.Fatalf("sixth connection of a user under the zero config: %s, want refused with limit", s.Reason())
	}

	hub = newTestHub(t, Config{MaxConnectionsPerUser: Unlimited, MaxMessagesPerSecond: Unlimited, PingInterval: Off})
	for range 6 {
		mustOpen(t, hub, &testsupport.Conn{}, "ada")
	}
	if effective := hub.Config(); effective.MaxConnectionsPerUser != Unlimited || effective.MaxMessagesPerSecond != Unlimited ||
		effective.MessageBurst != 0 || effective.PingInterval != Off {
		t.Fatalf("Unlimited and Off were not kept: %+v", effective)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for field, config := range map[string]Config{
		"Shards":                {Shards: -1},
		"MaxConnectionsPerUser": {MaxConnectionsPerUser: -2},
		"MaxConnections":        {MaxConnections: -5},
		"PingInterval":          {PingInterval: -time.Second},
		"PingTimeout":           {PingTimeout: -1},
		"CloseGrace":            {CloseGrace: -1},
		"TimerTick":             {TimerTick: -1},
		"MaxPendingBytes":       {MaxPendingBytes: MaxPendingBytesLimit + 1},
		"WriteDelay":            {WriteDelay: -1},
		"MaxFanoutDelay":        {MaxFanoutDelay: -time.Second},
		"FlushWorkers":          {FlushWorkers: -1},
		"MaxMessagesPerSecond":  {MaxMessagesPerSecond: -0.5},
		"MessageBurst":          {MessageBurst: -1},
	} {
		err := config.Validate()
		if err == nil || !strings.Contains(err.Error(), "Config."+field+" is ") {
			t.Errorf("%s: Validate() = %v, want an error naming the field", field, err)
		}
		if _, err := NewHub(config); err == nil {
			t.Errorf("%s: NewHub accepted what Validate refuses", field)
		}
	}
	if err := (Config{MaxConnectionsPerUser: Unlimited, MaxConnections: Unlimited, PingInterval: Off,
		MaxMessagesPerSecond: Unlimited}).Validate(); err != nil {
		t.Errorf("Unlimited and Off refused: %v", err)
	}
}
