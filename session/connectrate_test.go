package session

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConnectLimiterTakesABurstThenTheRate(t *testing.T) {
	limiter := newConnectLimiter(10) // a token every 100 ms, a bucket of 10
	now := int64(time.Hour)
	for connect := range 10 {
		if !limiter.take(now) {
			t.Fatalf("connect %d of the first second's burst refused", connect+1)
		}
	}
	if limiter.take(now) {
		t.Fatal("an eleventh connect at the same instant was admitted")
	}
	if limiter.take(now + int64(99*time.Millisecond)) {
		t.Fatal("a connect 99 ms later was admitted: a token takes 100 ms")
	}
	if !limiter.take(now + int64(100*time.Millisecond)) {
		t.Fatal("a connect 100 ms later was refused")
	}
	// An idle minute refills the bucket to its size, not beyond.
	later := now + int64(time.Minute)
	admitted := 0
	for limiter.take(later) {
		admitted++
	}
	if admitted != 10 {
		t.Fatalf("%d connects admitted after an idle minute, want the bucket's 10", admitted)
	}
}

func TestConnectLimiterAdmitsExactlyItsBucketUnderConcurrency(t *testing.T) {
	limiter := newConnectLimiter(100)
	var admitted atomic.Int64
	var group sync.WaitGroup
	for range 8 {
		group.Go(func() {
			for range 100 {
				if limiter.take(int64(time.Second)) {
					admitted.Add(1)
				}
			}
		})
	}
	group.Wait()
	if admitted.Load() != 100 {
		t.Fatalf("%d of 800 concurrent connects admitted at one instant, want the bucket's 100", admitted.Load())
	}
}

func TestConnectLimiterWithoutARateAdmitsEverything(t *testing.T) {
	for _, rate := range []float64{0, Unlimited} {
		limiter := newConnectLimiter(rate)
		for range 1000 {
			if !limiter.take(0) {
				t.Fatalf("rate %v refused a connect", rate)
			}
		}
	}
}

func TestConnectLimiterBelowOnePerSecondHoldsOneToken(t *testing.T) {
	limiter := newConnectLimiter(0.5) // a token every 2 s
	if !limiter.take(int64(time.Hour)) || limiter.take(int64(time.Hour)) {
		t.Fatal("want one connect, then a refusal")
	}
	if !limiter.take(int64(time.Hour + 2*time.Second)) {
		t.Fatal("a connect 2 s later was refused")
	}
}
