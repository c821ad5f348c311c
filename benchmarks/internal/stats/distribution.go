package stats

import (
	"math"
	"sort"
	"time"
)

// Bucket is one non-empty bucket of a Distribution: its index in the histogram's
// layout and how many durations fell in it.
type Bucket struct {
	Index int    `json:"i"`
	Count uint64 `json:"n"`
}

// Distribution is a snapshot of a Histogram: plain data that can be merged with the
// distributions of other processes and encoded as JSON. Buckets are sorted by index.
type Distribution struct {
	Buckets []Bucket      `json:"buckets,omitempty"`
	Count   uint64        `json:"count"`
	Sum     time.Duration `json:"sum_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Merge returns the distribution of the durations of both d and other.
func (d Distribution) Merge(other Distribution) Distribution {
	counts := make(map[int]uint64, len(d.Buckets)+len(other.Buckets))
	for _, bucket := range d.Buckets {
		counts[bucket.Index] += bucket.Count
	}
	for _, bucket := range other.Buckets {
		counts[bucket.Index] += bucket.Count
	}
	merged := Distribution{Count: d.Count + other.Count, Sum: d.Sum + other.Sum, Max: max(d.Max, other.Max)}
	for index, count := range counts {
		merged.Buckets = append(merged.Buckets, Bucket{Index: index, Count: count})
	}
	sort.Slice(merged.Buckets, func(a, b int) bool { return merged.Buckets[a].Index < merged.Buckets[b].Index })
	return merged
}

// Percentile returns the smallest recorded duration that at least fraction q (0 to 1)
// of the durations do not exceed, rounded up to its bucket's upper bound (at most
// 1.6% high) and never above the exact maximum. It returns 0 for an empty
// distribution.
func (d Distribution) Percentile(q float64) time.Duration {
	if d.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(d.Count)))
	rank = min(max(rank, 1), d.Count)
	seen := uint64(0)
	for _, bucket := range d.Buckets {
		seen += bucket.Count
		if seen >= rank {
			_, upper := bucketBounds(bucket.Index)
			return min(time.Duration(upper), d.Max)
		}
	}
	return d.Max
}

// Mean returns the average duration, or 0 for an empty distribution.
func (d Distribution) Mean() time.Duration {
	if d.Count == 0 {
		return 0
	}
	return d.Sum / time.Duration(d.Count)
}

// CumulativePoint is one step of a cumulative distribution: the fraction of the
// durations that are at most Value.
type CumulativePoint struct {
	Value    time.Duration
	Fraction float64
}

// Cumulative returns the cumulative distribution, one point per non-empty bucket at
// the bucket's upper bound (capped at the maximum).
func (d Distribution) Cumulative() []CumulativePoint {
	points := make([]CumulativePoint, 0, len(d.Buckets))
	seen := uint64(0)
	for _, bucket := range d.Buckets {
		seen += bucket.Count
		_, upper := bucketBounds(bucket.Index)
		points = append(points, CumulativePoint{
			Value:    min(time.Duration(upper), d.Max),
			Fraction: float64(seen) / float64(d.Count),
		})
	}
	return points
}
