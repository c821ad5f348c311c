package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/chart"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// trended are the series the trend test checks, with their tolerances (see
// benchmarks/README.md, "Soak", for why these). A leak tied to the churn (some
// state left behind per connection) grows a series by the same amount in each
// third of the run: at 200 connects per second a third of 30 minutes is 120,000
// connects, so one goroutine, file, timer, connection or subscription left per
// 1,000 connects adds 120, above every count's tolerance at the soak's levels, and
// 40 bytes of heap per connect (4.8 MB) exceeds the heap's.
var trended = []struct {
	name      string
	unit      string
	scale     float64
	tolerance tolerance
	value     func(sample) float64
}{
	{"rss", "MiB", 1 << 20, tolerance{Relative: 0.05, Absolute: 4 << 20}, func(s sample) float64 { return s.RSS }},
	{"heap", "MiB", 1 << 20, tolerance{Relative: 0.05, Absolute: 2 << 20}, func(s sample) float64 { return s.Heap }},
	{"goroutines", "", 1, tolerance{Relative: 0.10, Absolute: 10}, func(s sample) float64 { return s.Goroutines }},
	{"open_files", "", 1, tolerance{Relative: 0.03, Absolute: 30}, func(s sample) float64 { return s.OpenFiles }},
	{"timers", "", 1, tolerance{Relative: 0.03, Absolute: 30}, func(s sample) float64 { return s.Timers }},
	{"connections", "", 1, tolerance{Relative: 0.03, Absolute: 30}, func(s sample) float64 { return s.Connections }},
	{"subscriptions", "", 1, tolerance{Relative: 0.03, Absolute: 60}, func(s sample) float64 { return s.Subscriptions }},
	{"channels", "", 1, tolerance{Relative: 0.03, Absolute: 10}, func(s sample) float64 { return s.Channels }},
}

// judgeAll applies the trend test to every series of trended.
func judgeAll(samples []sample, warmup float64) []verdict {
	times := make([]float64, len(samples))
	for index, read := range samples {
		times[index] = read.Seconds
	}
	verdicts := make([]verdict, 0, len(trended))
	for _, series := range trended {
		values := make([]float64, len(samples))
		for index, read := range samples {
			values[index] = series.value(read)
		}
		verdicts = append(verdicts, judge(series.name, times, values, warmup, series.tolerance))
	}
	return verdicts
}

// soakReport is the outcome of a run.
type soakReport struct {
	config   soakConfig
	samples  []sample
	drained  sample
	drainErr error
	verdicts []verdict
	// totals is the node's /api/v1/ws/stats after the drain: its refusals and
	// disconnects by reason over the whole run.
	totals []byte
}

// failures lists what failed: series that trended up, and a node that did not
// drain.
func (r soakReport) failures() []string {
	var failed []string
	for _, result := range r.verdicts {
		if !result.Passed {
			failed = append(failed, result.Series+": "+result.Problem)
		}
	}
	if r.drainErr != nil {
		failed = append(failed, "drain: "+r.drainErr.Error())
	}
	return failed
}

// write writes soak.svg and summary.md to directory.
func (r soakReport) write(directory string) error {
	if err := os.WriteFile(filepath.Join(directory, "soak.svg"), []byte(r.chart()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(directory, "summary.md"), []byte(r.summary()), 0o644)
}

// summary is the run's table in Markdown: each series from start to end, its
// medians, limit, slope and verdict, and the node's state after the drain.
func (r soakReport) summary() string {
	var out strings.Builder
	last := r.samples[len(r.samples)-1]
	fmt.Fprintf(&out, "Soak of %s on %s (%d CPUs): %s of churn at %.0f connects/s over %d steady connections, %d samples every %s, warm-up %s; %.0f connections accepted in all.\n\n",
		r.config.binary, time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), r.config.duration, r.config.churnRate,
		r.config.connections, len(r.samples), r.config.interval, r.config.warmup, last.Accepted)
	fmt.Fprintln(&out, "| series | start | end | median, middle part | median, last part | limit | slope after warm-up, per hour | verdict |")
	fmt.Fprintln(&out, "|---|---|---|---|---|---|---|---|")
	for index, result := range r.verdicts {
		series := trended[index]
		format := func(value float64) string {
			if series.unit == "" {
				return fmt.Sprintf("%.0f", value/series.scale)
			}
			return fmt.Sprintf("%.1f %s", value/series.scale, series.unit)
		}
		outcome := "flat"
		if !result.Passed {
			outcome = "**FAIL**: " + result.Problem
		}
		fmt.Fprintf(&out, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", result.Series, format(result.Start), format(result.End),
			format(result.MiddleMedian), format(result.LastMedian), format(result.Limit), format(result.SlopePerHour), outcome)
	}
	drained := "drained"
	if r.drainErr != nil {
		drained = "**did not drain**: " + r.drainErr.Error()
	}
	fmt.Fprintf(&out, "\nAfter the generator exited: %s; RSS %.1f MiB, heap %.1f MiB, %.0f goroutines, %.0f open files, %.0f timers, %.0f connections, %.0f subscriptions, %.0f channels.\n",
		drained, r.drained.RSS/(1<<20), r.drained.Heap/(1<<20), r.drained.Goroutines, r.drained.OpenFiles, r.drained.Timers,
		r.drained.Connections, r.drained.Subscriptions, r.drained.Channels)
	var totals struct {
		Refused     map[string]uint64 `json:"refused_by_reason"`
		Disconnects map[string]uint64 `json:"disconnects_by_reason"`
	}
	if json.Unmarshal(r.totals, &totals) == nil {
		fmt.Fprintf(&out, "\nThe node's connections refused by reason: %s; disconnects by reason: %s.\n",
			nonZero(totals.Refused), nonZero(totals.Disconnects))
	}
	return out.String()
}

// nonZero prints the counts of counts that are not zero, in name order.
func nonZero(counts map[string]uint64) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if counts[name] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, counts[name]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// chart draws the samples in four panels against minutes since the start.
func (r soakReport) chart() string {
	line := func(name, color string, dashed bool, value func(sample) float64) chart.Series {
		points := make([]stats.Point, len(r.samples))
		for index, read := range r.samples {
			points[index] = stats.Point{X: read.Seconds / 60, Y: value(read)}
		}
		return chart.Series{Name: name, Color: color, Dashed: dashed, Points: points}
	}
	verdicts := map[string]string{}
	for _, result := range r.verdicts {
		verdicts[result.Series] = "flat"
		if !result.Passed {
			verdicts[result.Series] = "FAIL"
		}
	}
	note := func(series ...string) string {
		parts := []string{fmt.Sprintf("warm-up until minute %.0f", r.config.warmup.Minutes())}
		for _, name := range series {
			parts = append(parts, name+": "+verdicts[name])
		}
		return strings.Join(parts, "; ")
	}
	const minutes = "minutes since the start"
	title := fmt.Sprintf("Soak: %.0f connects/s over %d steady connections", r.config.churnRate, r.config.connections)
	return chart.Stack(
		chart.LineChart{Title: title + ", memory", XLabel: minutes, YLabel: "MiB", Note: note("rss", "heap"), Lines: []chart.Series{
			line("RSS", "#1f77b4", false, func(s sample) float64 { return s.RSS / (1 << 20) }),
			line("Go heap (live)", "#1f77b4", true, func(s sample) float64 { return s.Heap / (1 << 20) }),
		}},
		chart.LineChart{Title: "goroutines", XLabel: minutes, YLabel: "goroutines", Note: note("goroutines"), Lines: []chart.Series{
			line("goroutines", "#d62728", false, func(s sample) float64 { return s.Goroutines }),
		}},
		chart.LineChart{Title: "open files and connections", XLabel: minutes, YLabel: "count", Note: note("open_files", "connections"), Lines: []chart.Series{
			line("open files", "#2ca02c", false, func(s sample) float64 { return s.OpenFiles }),
			line("connections", "#2ca02c", true, func(s sample) float64 { return s.Connections }),
		}},
		chart.LineChart{Title: "timers, subscriptions and channels", XLabel: minutes, YLabel: "count", Note: note("timers", "subscriptions", "channels"), Lines: []chart.Series{
			line("timer wheel entries", "#9467bd", false, func(s sample) float64 { return s.Timers }),
			line("subscriptions", "#9467bd", true, func(s sample) float64 { return s.Subscriptions }),
			line("channels", "#8c564b", true, func(s sample) float64 { return s.Channels }),
		}},
	)
}
