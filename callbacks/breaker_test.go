package callbacks

import (
	"strings"
	"testing"
	"time"
)

// TestBreakerOpensAfterTheThresholdAndProbesAfterTheCooldown walks the breaker
// through every transition on a fake clock.
func TestBreakerOpensAfterTheThresholdAndProbesAfterTheCooldown(t *testing.T) {
	var changes []string
	b := breaker{threshold: 3, cooldown: time.Second, onChange: func(from, to BreakerState) {
		changes = append(changes, from.String()+">"+to.String())
	}}
	now := time.Unix(1000, 0)
	for range 2 {
		if !b.allow(now) {
			t.Fatal("a closed breaker refused a call")
		}
		b.record(false, now)
	}
	b.record(true, now)
	for range 3 {
		b.allow(now)
		b.record(false, now)
	}
	if b.current() != BreakerOpen || b.allow(now.Add(999*time.Millisecond)) {
		t.Fatalf("after 3 consecutive failures: %v; want open and failing fast", b.current())
	}
	if !b.allow(now.Add(time.Second)) || b.current() != BreakerHalfOpen {
		t.Fatal("after the cooldown the breaker lets no probe through")
	}
	if b.allow(now.Add(time.Second)) {
		t.Fatal("a half-open breaker let a second call through beside its probe")
	}
	b.record(false, now.Add(2*time.Second))
	if b.current() != BreakerOpen || b.allow(now.Add(2500*time.Millisecond)) {
		t.Fatal("a failed probe did not reopen the breaker for a cooldown")
	}
	if !b.allow(now.Add(3 * time.Second)) {
		t.Fatal("no second probe after the second cooldown")
	}
	b.abandon()
	if !b.allow(now.Add(3 * time.Second)) {
		t.Fatal("an abandoned probe did not give its turn back")
	}
	b.record(true, now.Add(3*time.Second))
	if b.current() != BreakerClosed {
		t.Fatalf("a successful probe left the breaker %v", b.current())
	}
	// An abandoned probe goes back to open quietly: the breaker never closed.
	want := "closed>open open>half_open half_open>open open>half_open open>half_open half_open>closed"
	if got := strings.Join(changes, " "); got != want {
		t.Errorf("transitions:\n%s\nwant\n%s", got, want)
	}
}
