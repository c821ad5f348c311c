package delivery

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// sentEvents records the payloads presenceEvents sends, decoded.
type sentEvents struct {
	mutex    sync.Mutex
	messages []map[string]any
}

func (s *sentEvents) send(channel string, payload []byte) {
	var decoded map[string]any
	_ = json.Unmarshal(payload, &decoded)
	s.mutex.Lock()
	s.messages = append(s.messages, decoded)
	s.mutex.Unlock()
}

func (s *sentEvents) snapshot() []map[string]any {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	return append([]map[string]any(nil), s.messages...)
}

// TestPresenceEventsCoalesceOverTheRate: under the rate each event is its own
// message; above it they gather into diffs in which a join and a leave of the same
// user cancel out; another channel is unaffected; calm returns to single events.
func TestPresenceEventsCoalesceOverTheRate(t *testing.T) {
	var sent sentEvents
	events := newPresenceEvents(3, 50*time.Millisecond, 100, sent.send)
	defer events.close()
	for user := range 3 {
		events.add(presenceEvent{channel: "c", user: fmt.Sprint(user), joined: true})
	}
	testsupport.WaitFor(t, 5*time.Second, "three joins", func() bool { return len(sent.snapshot()) == 3 })
	events.add(presenceEvent{channel: "c", user: "3", joined: true}, presenceEvent{channel: "c", user: "4", joined: true},
		presenceEvent{channel: "c", user: "4"}, presenceEvent{channel: "c", user: "0"},
		presenceEvent{channel: "other", user: "x", joined: true})
	testsupport.WaitFor(t, 5*time.Second, "the diff", func() bool { return len(sent.snapshot()) == 5 })
	got := sent.snapshot()
	for index, want := range []string{
		`map[channel:c type:join user:0]`, `map[channel:c type:join user:1]`, `map[channel:c type:join user:2]`,
		`map[channel:other type:join user:x]`, `map[channel:c joins:[3] leaves:[0] type:presence_diff]`,
	} {
		if fmt.Sprint(got[index]) != want {
			t.Fatalf("message %d: %v, want %s (all: %v)", index, got[index], want, got)
		}
	}
}

// TestPresenceDiffsCarryCountsAboveTheSize: a diff of more users than the size
// carries the counts only.
func TestPresenceDiffsCarryCountsAboveTheSize(t *testing.T) {
	var sent sentEvents
	events := newPresenceEvents(1, 20*time.Millisecond, 10, sent.send)
	defer events.close()
	batch := make([]presenceEvent, 0, 51)
	for user := range 51 {
		batch = append(batch, presenceEvent{channel: "c", user: fmt.Sprint(user), joined: true})
	}
	events.add(batch...)
	testsupport.WaitFor(t, 5*time.Second, "the diff", func() bool { return len(sent.snapshot()) == 2 })
	if got := fmt.Sprint(sent.snapshot()[1]); got != `map[channel:c join_count:50 leave_count:0 type:presence_diff]` {
		t.Fatalf("diff %s", got)
	}
}
