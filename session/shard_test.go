package session

import (
	"runtime"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// collidingIDs returns two ids that differ but share their registry key.
func collidingIDs() (ConnectionID, ConnectionID) {
	first := NewConnectionID()
	second := first
	second[0] ^= 0xff
	return first, second
}

// TestRegistryFindsSessionsWhoseKeysCollide registers two sessions whose ids share
// their last 8 bytes, removes them in both orders and re-registers one, checking
// after each step that every registered session is found and no other is.
func TestRegistryFindsSessionsWhoseKeysCollide(t *testing.T) {
	for _, removeFirstRegisteredFirst := range []bool{true, false} {
		sh := newShard(nil)
		firstID, secondID := collidingIDs()
		first, second := &Session{id: firstID}, &Session{id: secondID}
		expect := func(step string, registered ...*Session) {
			t.Helper()
			for _, s := range []*Session{first, second} {
				want := (*Session)(nil)
				for _, candidate := range registered {
					if candidate == s {
						want = s
					}
				}
				if got := sh.findLocked(s.id); got != want {
					t.Fatalf("%s: find(%v) = %p, want %p", step, s.id, got, want)
				}
			}
			if count := sh.connectionCount.Load(); count != int64(len(registered)) {
				t.Fatalf("%s: %d connections, want %d", step, count, len(registered))
			}
		}
		sh.insertLocked(first)
		sh.insertLocked(second)
		if sh.collided[secondID] != second {
			t.Fatal("the second session did not take the collision path")
		}
		expect("both registered", first, second)
		gone, staying := first, second
		if !removeFirstRegisteredFirst {
			gone, staying = second, first
		}
		if !sh.removeLocked(gone) || sh.removeLocked(gone) {
			t.Fatal("removal did not report exactly one removal")
		}
		expect("one removed", staying)
		sh.insertLocked(gone)
		expect("re-registered", first, second)
		sh.removeLocked(first)
		sh.removeLocked(second)
		expect("both removed")
		if sh.collided != nil || len(sh.sessions) != 0 {
			t.Fatalf("empty registry keeps %d keys and collided %v", len(sh.sessions), sh.collided)
		}
	}
}

// BenchmarkRegistryBytesPerSession reports what registering a session costs the
// shard (its map entry and member slot, with the growth slack at 15,000 sessions),
// not the session itself.
func BenchmarkRegistryBytesPerSession(b *testing.B) {
	const sessions = 15_000
	population := make([]Session, sessions)
	for index := range population {
		population[index].id = NewConnectionID()
	}
	var grown float64
	for b.Loop() {
		before := testsupport.LiveHeap()
		sh := newShard(nil)
		for index := range population {
			sh.insertLocked(&population[index])
		}
		grown = float64(testsupport.LiveHeap()-before) / sessions
		runtime.KeepAlive(sh)
	}
	b.ReportMetric(grown, "bytes/session")
}
