package dashboard

import (
	"testing"
	"time"
)

func TestBucketsAreContiguousAndAQuarterOctaveWide(t *testing.T) {
	for bucket := range bucketCount - 1 {
		lower, next := lowerBound(bucket), lowerBound(bucket+1)
		if bucketOf(lower) != bucket || bucketOf(next-1) != bucket || bucketOf(next) != bucket+1 {
			t.Fatalf("bucket %d spans [%d, %d) but bucketOf says %d, %d, %d", bucket, lower, next,
				bucketOf(lower), bucketOf(next-1), bucketOf(next))
		}
		if bucket >= 8 && float64(next-lower) > float64(lower)/4 {
			t.Fatalf("bucket %d is [%d, %d): wider than a quarter of its lower bound", bucket, lower, next)
		}
	}
	if bucketOf(1<<62) != bucketCount-1 {
		t.Fatal("a duration past the last bucket must count in the last bucket")
	}
}

func TestQuantilesOfOneSecondAreWithinABucket(t *testing.T) {
	var h histogram
	var before, after [bucketCount]uint64
	// Counted before the window: must not count in it.
	for range 1000 {
		h.observe(time.Second)
	}
	h.read(&before)
	// 98 fast, 2 slow: p50 is fast, p99 slow.
	for range 98 {
		h.observe(2 * time.Millisecond)
	}
	h.observe(300 * time.Millisecond)
	h.observe(300 * time.Millisecond)
	h.read(&after)
	p50, p99, counted := quantiles(&after, &before)
	if !counted || !within(p50, 2000, 0.13) || !within(p99, 300000, 0.13) {
		t.Fatalf("p50 %d µs, p99 %d µs (counted %v); want about 2,000 and 300,000", p50, p99, counted)
	}
	if _, _, counted := quantiles(&after, &after); counted {
		t.Fatal("a window without observations reported quantiles")
	}
	h.observe(-time.Second)
	h.read(&before)
	if before[0] != 1 {
		t.Fatal("a negative duration must count as 0")
	}
}

func within(value, want uint64, fraction float64) bool {
	return float64(value) >= float64(want)*(1-fraction) && float64(value) <= float64(want)*(1+fraction)
}
