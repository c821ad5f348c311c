package stats

import (
	"sync"
	"testing"
	"time"
)

func TestBucketBoundsContainTheirValues(t *testing.T) {
	values := []int64{0, 1, 127, 128, 129, 130, 255, 256, 1000, 999_999, 1_000_000, 123_456_789, 5_000_000_000, maxValue}
	for value := int64(1); value < maxValue/3; value = value*3 + 1 {
		values = append(values, value, value+1)
	}
	for _, value := range values {
		index := bucketIndex(value)
		if index < 0 || index >= bucketCount {
			t.Fatalf("value %d: index %d outside [0,%d)", value, index, bucketCount)
		}
		lower, upper := bucketBounds(index)
		if value < lower || value > upper {
			t.Fatalf("value %d: bucket %d holds [%d,%d]", value, index, lower, upper)
		}
		if lower >= exactValues && float64(upper-lower+1)/float64(lower) > 1.0/subBuckets+1e-12 {
			t.Fatalf("value %d: bucket [%d,%d] wider than 1/%d", value, lower, upper, subBuckets)
		}
	}
	if bucketIndex(maxValue*4) != bucketCount-1 {
		t.Fatal("values above the maximum must land in the last bucket")
	}
}

func TestPercentilesOfKnownDistribution(t *testing.T) {
	var histogram Histogram
	for millisecond := 1; millisecond <= 1000; millisecond++ {
		histogram.Record(time.Duration(millisecond) * time.Millisecond)
	}
	distribution := histogram.Snapshot()
	if distribution.Count != 1000 || distribution.Max != time.Second {
		t.Fatalf("count %d max %v", distribution.Count, distribution.Max)
	}
	for _, check := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}, {0, time.Millisecond}} {
		got := distribution.Percentile(check.q)
		if got < check.want || float64(got) > float64(check.want)*(1+1.0/subBuckets) {
			t.Errorf("p%v = %v, want %v to +1.6%%", check.q*100, got, check.want)
		}
	}
	if mean := distribution.Mean(); mean != 500500*time.Microsecond {
		t.Errorf("mean = %v", mean)
	}
	if (Distribution{}).Percentile(0.5) != 0 || (Distribution{}).Mean() != 0 {
		t.Error("an empty distribution must report zero")
	}
}

func TestMergeAddsCountsAndKeepsOrder(t *testing.T) {
	var fast, slow Histogram
	for range 90 {
		fast.Record(time.Millisecond)
	}
	for range 10 {
		slow.Record(time.Second)
	}
	merged := slow.Snapshot().Merge(fast.Snapshot())
	if merged.Count != 100 || merged.Max != time.Second || merged.Sum != 90*time.Millisecond+10*time.Second {
		t.Fatalf("merged %+v", merged)
	}
	for i := 1; i < len(merged.Buckets); i++ {
		if merged.Buckets[i-1].Index >= merged.Buckets[i].Index {
			t.Fatal("merged buckets are not sorted")
		}
	}
	if p50 := merged.Percentile(0.5); p50 > 2*time.Millisecond {
		t.Errorf("p50 = %v, want about 1ms", p50)
	}
	if p95 := merged.Percentile(0.95); p95 != time.Second {
		t.Errorf("p95 = %v, want 1s", p95)
	}
	points := merged.Cumulative()
	if len(points) != 2 || points[0].Fraction != 0.9 || points[1].Fraction != 1 || points[1].Value != time.Second {
		t.Errorf("cumulative = %+v", points)
	}
}

func TestConcurrentRecordsAreAllCounted(t *testing.T) {
	var histogram Histogram
	var group sync.WaitGroup
	for worker := range 8 {
		group.Go(func() {
			for i := range 1000 {
				histogram.Record(time.Duration(worker*1000+i) * time.Microsecond)
			}
		})
	}
	group.Wait()
	if snapshot := histogram.Snapshot(); snapshot.Count != 8000 || snapshot.Max != 7999*time.Microsecond {
		t.Fatalf("count %d max %v", snapshot.Count, snapshot.Max)
	}
}

func TestSlope(t *testing.T) {
	perConnection, ok := Slope(Point{X: 5000, Y: 50e6}, Point{X: 15000, Y: 62e6})
	if !ok || perConnection != 1200 {
		t.Fatalf("slope = %v, %v; want 1200", perConnection, ok)
	}
	if _, ok := Slope(Point{X: 1, Y: 1}, Point{X: 1, Y: 2}); ok {
		t.Fatal("equal counts have no slope")
	}
}
