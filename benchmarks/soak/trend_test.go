package main

import (
	"math"
	"testing"
)

// samples returns a series every 10 s for 30 minutes: value(t).
func samples(value func(at float64) float64) (times, values []float64) {
	for at := 0.0; at <= 1800; at += 10 {
		times = append(times, at)
		values = append(values, value(at))
	}
	return times, values
}

func TestJudgePassesAFlatSeriesAfterAWarmUp(t *testing.T) {
	// Grows for five minutes, then stays level with a sawtooth and a spike.
	times, values := samples(func(at float64) float64 {
		level := 100 + math.Min(at, 300)/3
		if int(at)%60 == 0 {
			level += 5
		}
		if at == 1700 {
			level += 500
		}
		return level
	})
	got := judge("flat", times, values, 600, tolerance{Relative: 0.03, Absolute: 2})
	if !got.Passed || got.Problem != "" {
		t.Fatalf("a flat series failed: %+v", got)
	}
	if got.Start != values[0] || got.End != values[len(values)-1] || got.MiddleMedian != 200 {
		t.Fatalf("figures %+v", got)
	}
}

func TestJudgeFailsASlowLeak(t *testing.T) {
	// One unit every 10 s: 60 units from the middle third to the last, on a level
	// of 1,000 with a 3% + 20 tolerance (50 units).
	times, values := samples(func(at float64) float64 { return 1000 + at/10 })
	got := judge("leak", times, values, 600, tolerance{Relative: 0.03, Absolute: 20})
	if got.Passed {
		t.Fatalf("a leak passed: %+v", got)
	}
	if math.Abs(got.SlopePerHour-360) > 1e-6 {
		t.Fatalf("slope %v per hour, want 360", got.SlopePerHour)
	}
}

func TestJudgeFailsWithTooFewSamples(t *testing.T) {
	got := judge("short", []float64{0, 10, 20, 30}, []float64{1, 1, 1, 1}, 0, tolerance{})
	if got.Passed || got.Problem == "" {
		t.Fatalf("four samples passed: %+v", got)
	}
	if got := judge("none", nil, nil, 0, tolerance{}); got.Passed {
		t.Fatalf("no samples passed: %+v", got)
	}
}

func TestMedianOfOddAndEvenCounts(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median(3,1,2) = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median(4,1,3,2) = %v", got)
	}
}
