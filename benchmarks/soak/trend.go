package main

import (
	"fmt"
	"slices"
)

// tolerance is how much a series may grow from the middle third of the run to the
// last third before the soak calls it a trend: Relative of the middle third's median
// plus Absolute, in the series' unit.
type tolerance struct {
	Relative float64
	Absolute float64
}

// verdict is the trend test of one series: its first and last samples, the medians
// of the middle and the last part of the run (after warm-up, split in two halves by
// time), the limit the last median must not exceed, the least-squares slope over the
// samples after warm-up (per hour, for the report; the verdict does not use it), and
// whether the series passed.
type verdict struct {
	Series       string
	Start, End   float64
	MiddleMedian float64
	LastMedian   float64
	Limit        float64
	SlopePerHour float64
	Passed       bool
	Problem      string
}

// judge applies the trend test to one series sampled at times (seconds since the
// start): the samples before warmup are left out, the rest are split at their
// midpoint in time, and the series passes when the median of the second half is at
// most the median of the first half times 1+Relative plus Absolute. With warmup at a
// third of the run this compares the last third with the middle third. Medians
// ignore single outliers (a GC that had not finished, a burst of churn) that would
// tilt a regression, and a leak tied to the churn grows the last third by the same
// amount as the middle third, so it shows as the difference. Fewer than three
// samples in either half fail.
func judge(series string, times, values []float64, warmup float64, limit tolerance) verdict {
	result := verdict{Series: series}
	if len(values) == 0 {
		result.Problem = "no samples"
		return result
	}
	result.Start, result.End = values[0], values[len(values)-1]
	var kept []int
	for index, at := range times {
		if at >= warmup {
			kept = append(kept, index)
		}
	}
	if len(kept) < 6 {
		result.Problem = fmt.Sprintf("%d samples after warm-up, need 6", len(kept))
		return result
	}
	middle := (times[kept[0]] + times[kept[len(kept)-1]]) / 2
	var first, second, keptTimes, keptValues []float64
	for _, index := range kept {
		keptTimes, keptValues = append(keptTimes, times[index]), append(keptValues, values[index])
		if times[index] < middle {
			first = append(first, values[index])
		} else {
			second = append(second, values[index])
		}
	}
	if len(first) < 3 || len(second) < 3 {
		result.Problem = fmt.Sprintf("%d and %d samples in the two halves, need 3 each", len(first), len(second))
		return result
	}
	result.MiddleMedian, result.LastMedian = median(first), median(second)
	result.Limit = result.MiddleMedian*(1+limit.Relative) + limit.Absolute
	result.SlopePerHour = leastSquaresSlope(keptTimes, keptValues) * 3600
	result.Passed = result.LastMedian <= result.Limit
	if !result.Passed {
		result.Problem = fmt.Sprintf("last median %.6g above the limit %.6g", result.LastMedian, result.Limit)
	}
	return result
}

// median returns the median of values (the mean of the middle two for an even count).
func median(values []float64) float64 {
	sorted := slices.Sorted(slices.Values(values))
	middle := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[middle]
	}
	return (sorted[middle-1] + sorted[middle]) / 2
}

// leastSquaresSlope returns the slope of the least-squares line through (x, y), 0
// when every x is the same.
func leastSquaresSlope(x, y []float64) float64 {
	var meanX, meanY float64
	for index := range x {
		meanX += x[index]
		meanY += y[index]
	}
	meanX /= float64(len(x))
	meanY /= float64(len(y))
	var covariance, variance float64
	for index := range x {
		covariance += (x[index] - meanX) * (y[index] - meanY)
		variance += (x[index] - meanX) * (x[index] - meanX)
	}
	if variance == 0 {
		return 0
	}
	return covariance / variance
}
