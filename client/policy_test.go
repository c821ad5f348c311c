package client

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/protocol"
)

func TestClosePolicyOfFollowsTheProtocolTable(t *testing.T) {
	table := map[int]ClosePolicy{
		CodeNormal:             PolicyStop,
		CodeGoingAway:          PolicyGoingAway,
		CodeAbnormal:           PolicyBackoff,
		1005:                   PolicyBackoff,
		CodeLimit:              PolicyBackoff,
		CodeTooBig:             PolicyBackoff,
		CodeInternal:           PolicyBackoff,
		CodeTryAgainLater:      PolicyBackoff,
		CodeHeartbeatTimeout:   PolicyBackoff,
		CodeSlowConsumer:       PolicyBackoff,
		CodeRateLimited:        PolicyBackoff,
		4099:                   PolicyBackoff,
		CodeTokenExpired:       PolicyRefreshToken,
		4199:                   PolicyRefreshToken,
		4400:                   PolicyStop,
		CodeUnauthorized:       PolicyStop,
		CodeKicked:             PolicyStop,
		4499:                   PolicyStop,
		4500:                   PolicyBackoff,
		CodeBackendUnavailable: PolicyBackoff,
	}
	for code, want := range table {
		if got := ClosePolicyOf(code); got != want {
			t.Errorf("ClosePolicyOf(%d) = %v, want %v", code, got, want)
		}
	}
}

// TestClosePolicyOfFollowsEveryCodeOfTheProtocolTable holds the client to the one
// close-code table: every code in it, and both ends of every range.
func TestClosePolicyOfFollowsEveryCodeOfTheProtocolTable(t *testing.T) {
	want := map[protocol.ReconnectPolicy]ClosePolicy{
		protocol.PolicyTerminal:     PolicyStop,
		protocol.PolicyBackoff:      PolicyBackoff,
		protocol.PolicyJitter:       PolicyGoingAway,
		protocol.PolicyRefreshToken: PolicyRefreshToken,
	}
	named := map[int]bool{CodeNormal: true, CodeGoingAway: true, CodeAbnormal: true, CodeLimit: true, CodeTooBig: true,
		CodeInternal: true, CodeTryAgainLater: true, CodeHeartbeatTimeout: true, CodeSlowConsumer: true,
		CodeRateLimited: true, CodeBackendUnavailable: true, CodeTokenExpired: true, CodeUnauthorized: true, CodeKicked: true}
	// A code sent for several reasons (1013) has one entry per reason and one constant.
	seen := map[int]bool{}
	for _, entry := range protocol.CloseCodes() {
		if got := ClosePolicyOf(int(entry.Code)); got != want[entry.Policy] {
			t.Errorf("ClosePolicyOf(%d) = %v, want %v (%s in the table)", entry.Code, got, want[entry.Policy], entry.Policy)
		}
		if !named[int(entry.Code)] && !seen[int(entry.Code)] {
			t.Errorf("close code %d (%s) has no Code constant", entry.Code, entry.Name)
		}
		delete(named, int(entry.Code))
		seen[int(entry.Code)] = true
	}
	if len(named) != 0 {
		t.Errorf("Code constants %v are not in the protocol table", named)
	}
	for _, codeRange := range protocol.CloseCodeRanges() {
		for _, code := range []int{int(codeRange.First), int(codeRange.Last)} {
			if got := ClosePolicyOf(code); got != want[codeRange.Policy] {
				t.Errorf("ClosePolicyOf(%d) = %v, want %v (range %d-%d)", code, got, want[codeRange.Policy], codeRange.First, codeRange.Last)
			}
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
	if !q.push(&outgoing{data: []byte("1")}) || !q.push(&outgoing{data: []byte("2")}) {
		t.Fatal("push into a queue with room failed")
	}
	if q.push(&outgoing{data: []byte("3")}) {
		t.Fatal("push into a full queue succeeded")
	}
	first, _ := q.pop()
	if !first.claim() {
		t.Fatal("claim of a queued item failed")
	}
	q.pushFront(first)
	var order []string
	for item, ok := q.pop(); ok; item, ok = q.pop() {
		order = append(order, string(item.data))
	}
	if len(order) != 2 || order[0] != "1" || order[1] != "2" {
		t.Fatalf("order %v, want [1 2]", order)
	}
	if !first.withdraw() {
		t.Fatal("an item put back by pushFront could not be withdrawn")
	}
	if first.claim() {
		t.Fatal("a withdrawn item was claimed")
	}
}
