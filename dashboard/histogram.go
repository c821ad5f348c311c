package dashboard

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in logarithmic buckets, four per power of two, from
// 1 ns to about 69 s (longer ones count in the last bucket): a bucket is at most a
// quarter of its lower bound wide, so a quantile read from its middle is within
// about 12% of the true value. Observing is a bit scan and one atomic add, with no
// lock and no allocation; the sampler reads the counts once a second and
// subtracts the previous reading to get that second's distribution (see
// quantiles). Safe for concurrent use. 144 buckets of 8 bytes: 1,152 bytes.
type histogram struct {
	counts [bucketCount]atomic.Uint64
}

// bucketCount is the number of histogram buckets: durations under 8 ns have a
// bucket each, then four per power of two up to 2^36 ns.
const bucketCount = 144

// bucketOf returns the bucket of a duration in nanoseconds.
func bucketOf(nanoseconds uint64) int {
	if nanoseconds < 8 {
		return int(nanoseconds)
	}
	octave := bits.Len64(nanoseconds) - 1
	index := (octave-1)*4 + int(nanoseconds>>(octave-2)&3)
	return min(index, bucketCount-1)
}

// lowerBound returns the smallest duration, in nanoseconds, of a bucket.
func lowerBound(bucket int) uint64 {
	if bucket < 8 {
		return uint64(bucket)
	}
	octave := bucket/4 + 1
	return uint64(4+bucket%4) << (octave - 2)
}

// observe counts one duration; a negative one counts as 0.
func (h *histogram) observe(duration time.Duration) {
	h.counts[bucketOf(uint64(max(duration, 0)))].Add(1)
}

// read copies the cumulative counts into counts.
func (h *histogram) read(counts *[bucketCount]uint64) {
	for index := range counts {
		counts[index] = h.counts[index].Load()
	}
}

// quantiles returns the p50 and p99 of the durations counted between two readings
// (current minus previous), in microseconds, each the middle of its bucket; ok is
// false when nothing was counted in between. It costs O(buckets).
func quantiles(current, previous *[bucketCount]uint64) (p50, p99 uint64, ok bool) {
	var window [bucketCount]uint64
	total := uint64(0)
	for index := range window {
		window[index] = current[index] - previous[index]
		total += window[index]
	}
	if total == 0 {
		return 0, 0, false
	}
	// The rank of a quantile q is ceil(q * total): the smallest count that covers it.
	medianRank, highRank := (total+1)/2, (total*99+99)/100
	seen := uint64(0)
	for index, count := range window {
		if count == 0 {
			continue
		}
		seen += count
		middle := (lowerBound(index) + lowerBound(index+1)) / 2 / 1000
		if p50 == 0 && seen >= medianRank {
			p50 = max(middle, 1)
		}
		if seen >= highRank {
			return p50, max(middle, 1), true
		}
	}
	return p50, p50, true
}
