package session

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// fakeAdmission answers Acquire with allow and err and records every call.
type fakeAdmission struct {
	mutex    sync.Mutex
	allow    bool
	err      error
	acquired []string
	released []string
}

func (f *fakeAdmission) Acquire(userID string, _ int) (bool, error) {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	f.acquired = append(f.acquired, userID)
	return f.allow, f.err
}

func (f *fakeAdmission) Release(userID string) {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	f.released = append(f.released, userID)
}

func (f *fakeAdmission) calls() (acquired, released int) {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	return len(f.acquired), len(f.released)
}

// fakeRelay records the payloads handed to it.
type fakeRelay struct {
	mutex    sync.Mutex
	payloads []string
}

func (f *fakeRelay) RelayBroadcast(payload []byte) {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	f.payloads = append(f.payloads, string(payload))
}

func TestClusterAdmissionDecidesBeforeTheLocalLimit(t *testing.T) {
	admission := &fakeAdmission{allow: false}
	hub := newTestHub(t, Config{MaxConnectionsPerUser: 5, Admission: admission})
	if _, err := hub.Open(&testsupport.Conn{}, "alice"); !isRefusal(err, ReasonLimit) {
		t.Fatalf("Open with the cluster refusing: %v, want a limit refusal", err)
	}
	if hub.ConnectionCount() != 0 {
		t.Fatal("a connection the cluster refused entered the registry")
	}
	if _, err := hub.Open(&testsupport.Conn{}, ""); err != nil {
		t.Fatalf("anonymous connection: %v", err)
	}
	if acquired, _ := admission.calls(); acquired != 1 {
		t.Fatalf("Acquire called %d times, want once (anonymous connections are not counted)", acquired)
	}
}

func TestClusterAdmissionFailsOpenToTheLocalLimit(t *testing.T) {
	admission := &fakeAdmission{err: errors.New("redis down")}
	hub := newTestHub(t, Config{MaxConnectionsPerUser: 2, Admission: admission})
	for range 2 {
		if _, err := hub.Open(&testsupport.Conn{}, "bob"); err != nil {
			t.Fatalf("Open with the cluster unavailable: %v, want the local limit to admit", err)
		}
	}
	if _, err := hub.Open(&testsupport.Conn{}, "bob"); !isRefusal(err, ReasonLimit) {
		t.Fatalf("third connection: %v, want the local limit to refuse", err)
	}
	if acquired, released := admission.calls(); acquired != 3 || released != 1 {
		t.Fatalf("Acquire %d, Release %d times; want 3 and 1 (the locally refused one given back)", acquired, released)
	}
}

func TestClusterCountIsReleasedWhenTheConnectionLeaves(t *testing.T) {
	admission := &fakeAdmission{allow: true}
	hub := newTestHub(t, Config{Admission: admission})
	s, err := hub.Open(&testsupport.Conn{}, "carol")
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ReasonKicked)
	hub.Closed(s, ReasonError)
	if _, released := admission.calls(); released != 1 {
		t.Fatalf("Release called %d times, want once however many close paths run", released)
	}
}

func TestClientBroadcastIsRelayedAsItsPayload(t *testing.T) {
	relay := &fakeRelay{}
	hub := newTestHub(t, Config{Relay: relay})
	sender, _ := hub.Open(&testsupport.Conn{}, "")
	// Short, 16-bit and 64-bit frame lengths: the payload must come without the header.
	var want []string
	for _, size := range []int{3, 300, 70000} {
		message := `{"type":"broadcast","content":"` + strings.Repeat("x", size) + `"}`
		want = append(want, message)
		hub.HandleText(sender, []byte(message))
	}
	relay.mutex.Lock()
	defer relay.mutex.Unlock()
	if !slices.Equal(relay.payloads, want) {
		t.Fatalf("relayed %d payloads, want the %d broadcasts' JSON without frame headers", len(relay.payloads), len(want))
	}
}

func TestTaggedConnectionIDsCarryTheirNode(t *testing.T) {
	tag := NodeTag{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02}
	hub := newTestHub(t, Config{NodeTag: tag})
	s, _ := hub.Open(&testsupport.Conn{}, "")
	id := s.ID()
	if id.NodeTag() != tag {
		t.Fatalf("id %s does not start with the node's tag", id)
	}
	parsed, err := ParseConnectionID(id.String())
	if err != nil || parsed != id || id[6]>>4 != 4 || id[8]>>6 != 2 {
		t.Fatalf("tagged id %s is not a version-4 UUID (%v)", id, err)
	}
	if other := NewTaggedConnectionID(tag); other == id {
		t.Fatal("two tagged ids are equal")
	}
	if untagged := NewTaggedConnectionID(NodeTag{}); untagged.NodeTag() == (NodeTag{}) {
		t.Fatal("the zero tag must give a fully random id")
	}
}

func isRefusal(err error, reason CloseReason) bool {
	var refused *RefusedError
	return errors.As(err, &refused) && refused.Reason == reason
}
