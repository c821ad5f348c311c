// Package stats holds the arithmetic of the benchmarks: a concurrent latency histogram
// that merges across processes, percentiles, and the slope between two measurements.
// It has no dependencies beyond the standard library.
package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Bucket layout: values below exactValues nanoseconds have a bucket each; above, every
// power of two is split into subBuckets equal buckets, so a bucket is at most 1/64
// (1.6%) wider than its lower bound. Values above maxValue land in the last bucket.
const (
	subBits     = 6
	subBuckets  = 1 << subBits
	exactValues = 2 * subBuckets
	maxShift    = 34
	bucketCount = exactValues + maxShift*subBuckets
	maxValue    = int64(1)<<(maxShift+subBits+1) - 1
)

// Histogram counts durations in log-linear buckets. Record is safe for concurrent use
// and costs a few atomic additions; Snapshot gives a plain Distribution to print, merge
// or encode. The zero value is ready to use.
type Histogram struct {
	counts [bucketCount]atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
}

// Record counts one duration; negative durations count as zero.
func (h *Histogram) Record(duration time.Duration) {
	value := max(int64(duration), 0)
	h.counts[bucketIndex(value)].Add(1)
	h.sum.Add(value)
	for {
		current := h.max.Load()
		if value <= current || h.max.CompareAndSwap(current, value) {
			return
		}
	}
}

// Snapshot returns the recorded distribution. Records that race with it may be
// partly included.
func (h *Histogram) Snapshot() Distribution {
	distribution := Distribution{Max: time.Duration(h.max.Load()), Sum: time.Duration(h.sum.Load())}
	for index := range h.counts {
		if count := h.counts[index].Load(); count > 0 {
			distribution.Buckets = append(distribution.Buckets, Bucket{Index: index, Count: count})
			distribution.Count += count
		}
	}
	return distribution
}

// bucketIndex returns the bucket of a non-negative value in nanoseconds.
func bucketIndex(value int64) int {
	if value < exactValues {
		return int(value)
	}
	value = min(value, maxValue)
	shift := bits.Len64(uint64(value)) - subBits - 1
	mantissa := int(value >> shift)
	return exactValues + (shift-1)*subBuckets + mantissa - subBuckets
}

// bucketBounds returns the smallest and largest value of a bucket, in nanoseconds.
func bucketBounds(index int) (lower, upper int64) {
	if index < exactValues {
		return int64(index), int64(index)
	}
	shift := (index-exactValues)/subBuckets + 1
	mantissa := int64((index-exactValues)%subBuckets + subBuckets)
	lower = mantissa << shift
	return lower, lower + int64(1)<<shift - 1
}
