package main

import (
	"testing"
	"time"
)

func TestMostWithinSecondCountsASlidingSecond(t *testing.T) {
	start := time.Unix(100, 0)
	at := func(milliseconds ...int) []time.Time {
		times := make([]time.Time, len(milliseconds))
		for index, millisecond := range milliseconds {
			times[index] = start.Add(time.Duration(millisecond) * time.Millisecond)
		}
		return times
	}
	cases := map[string]struct {
		times []time.Time
		want  int
	}{
		"none":                              {nil, 0},
		"one":                               {at(0), 1},
		"across a second boundary":          {at(900, 1100, 1200, 1800), 4},
		"a second apart is not within one":  {at(0, 1000), 1},
		"the densest second, not the first": {at(0, 1500, 1600, 1700, 2400), 4},
	}
	for name, c := range cases {
		if got := mostWithinSecond(c.times); got != c.want {
			t.Errorf("%s: mostWithinSecond = %d, want %d", name, got, c.want)
		}
	}
}
