package session

import (
	"errors"
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

func TestClusterAdmissionDecidesBeforeTheLocalLimit(t *testing.T) {
	admission := &fakeAdmission{allow: false}
	hub := newTestHub(t, Config{MaxConnectionsPerUser: 5, Admission: admission})
	if s := testTransport(hub).Open(&testsupport.Conn{}, Identity{UserID: "alice"}); s.Reason() != ReasonLimit {
		t.Fatalf("Open with the cluster refusing: %s, want a limit refusal", s.Reason())
	}
	if hub.ConnectionCount() != 0 {
		t.Fatal("a connection the cluster refused entered the registry")
	}
	mustOpen(t, hub, &testsupport.Conn{}, "")
	if acquired, _ := admission.calls(); acquired != 1 {
		t.Fatalf("Acquire called %d times, want once (anonymous connections are not counted)", acquired)
	}
}

func TestClusterAdmissionFailsOpenToTheLocalLimit(t *testing.T) {
	admission := &fakeAdmission{err: errors.New("redis down")}
	hub := newTestHub(t, Config{MaxConnectionsPerUser: 2, Admission: admission})
	for range 2 {
		mustOpen(t, hub, &testsupport.Conn{}, "bob") // the cluster is unavailable: the local limit admits
	}
	if s := testTransport(hub).Open(&testsupport.Conn{}, Identity{UserID: "bob"}); s.Reason() != ReasonLimit {
		t.Fatalf("third connection: %s, want the local limit to refuse", s.Reason())
	}
	if acquired, released := admission.calls(); acquired != 3 || released != 1 {
		t.Fatalf("Acquire %d, Release %d times; want 3 and 1 (the locally refused one given back)", acquired, released)
	}
}

func TestClusterCountIsReleasedWhenTheConnectionLeaves(t *testing.T) {
	admission := &fakeAdmission{allow: true}
	hub := newTestHub(t, Config{Admission: admission})
	s := mustOpen(t, hub, &testsupport.Conn{}, "carol")
	s.Close(ReasonKicked)
	testTransport(hub).Closed(s, ReasonError)
	if _, released := admission.calls(); released != 1 {
		t.Fatalf("Release called %d times, want once however many close paths run", released)
	}
}

func TestTaggedConnectionIDsCarryTheirNode(t *testing.T) {
	tag := NodeTag{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02}
	hub := newTestHub(t, Config{NodeTag: tag})
	id := mustOpen(t, hub, &testsupport.Conn{}, "").ID()
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
