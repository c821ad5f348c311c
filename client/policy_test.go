package client

import (
	"testing"
	"time"
)

func TestClosePolicyOfFollowsTheProtocolTable(t *testing.T) {
	table := map[int]ClosePolicy{
		CodeNormal:           PolicyStop,
		CodeGoingAway:        PolicyGoingAway,
		CodeAbnormal:         PolicyBackoff,
		1005:                 PolicyBackoff,
		CodeLimit:            PolicyBackoff,
		CodeTooBig:           PolicyBackoff,
		CodeInternal:         PolicyBackoff,
		CodeTryAgainLater:    PolicyBackoff,
		CodeHeartbeatTimeout: PolicyBackoff,
		CodeSlowConsumer:     PolicyBackoff,
		CodeRateLimited:      PolicyBackoff,
		4099:                 PolicyBackoff,
		CodeTokenExpired:     PolicyRefreshToken,
		4199:                 PolicyRefreshToken,
		4400:                 PolicyStop,
		CodeUnauthorized:     PolicyStop,
		CodeKicked:           PolicyStop,
		4499:                 PolicyStop,
		4500:                 PolicyBackoff,
	}
	for code, want := range table {
		if got := ClosePolicyOf(code); got != want {
			t.Errorf("ClosePolicyOf(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestBackoffDelayDoublesUpToTheCap(t *testing.T) {
	const almostOne = 1 - 1e-12
	want := []time.Duration{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000}
	for index, ceiling := range want {
		got := backoffDelay(index+1, 500*time.Millisecond, 30*time.Second, almostOne).Round(time.Millisecond)
		if got != ceiling*time.Millisecond {
			t.Errorf("attempt %d: delay %v, want %v", index+1, got, ceiling*time.Millisecond)
		}
	}
	if got := backoffDelay(1000, 500*time.Millisecond, 30*time.Second, almostOne).Round(time.Millisecond); got != 30*time.Second {
		t.Errorf("attempt 1000: delay %v, want the 30s cap", got)
	}
	if got := backoffDelay(3, 500*time.Millisecond, 30*time.Second, 0.5); got != time.Second {
		t.Errorf("attempt 3 at random 0.5: delay %v, want 1s", got)
	}
	if got := backoffDelay(7, 500*time.Millisecond, 30*time.Second, 0); got != 0 {
		t.Errorf("random 0: delay %v, want 0", got)
	}
}

func TestQueueIsBoundedAndKeepsOrder(t *testing.T) {
	q := newQueue(2)
	if !q.push([]byte("1")) || !q.push([]byte("2")) {
		t.Fatal("push into a queue with room failed")
	}
	if q.push([]byte("3")) {
		t.Fatal("push into a full queue succeeded")
	}
	first, _ := q.pop()
	q.pushFront(first)
	var order []string
	for item, ok := q.pop(); ok; item, ok = q.pop() {
		order = append(order, string(item))
	}
	if len(order) != 2 || order[0] != "1" || order[1] != "2" {
		t.Fatalf("order %v, want [1 2]", order)
	}
}
