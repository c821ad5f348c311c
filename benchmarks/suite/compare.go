package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// serverResult is what the suite measured for one server: the idle run and the load
// run (connect, fanout, rate, echo), each on a freshly started server. Commands are
// the command lines, in order: server, generator, server, generator; OtherCPU is
// the processor time, in seconds, that other processes of the machine used during
// each of the two runs.
type serverResult struct {
	Name     string      `json:"name"`
	Commands []string    `json:"commands"`
	OtherCPU []float64   `json:"other_cpu_s"`
	Idle     *result.Run `json:"idle"`
	Load     *result.Run `json:"load"`
}

// figure is one row of the comparison table: how to read it from a server's result
// (false when unknown), how to print it, and the target it is held to.
type figure struct {
	name   string
	value  func(serverResult) (float64, bool)
	digits int
	target string
}

// figures are the rows of the comparison table; offered is the deliveries per
// second the rate scenario asks for (broadcasts per second times connections).
func figures(connections int, offered float64) []figure {
	idle := func(read func(*result.Idle) (float64, bool)) func(serverResult) (float64, bool) {
		return func(s serverResult) (float64, bool) {
			if s.Idle == nil || s.Idle.Idle == nil {
				return 0, false
			}
			return read(s.Idle.Idle)
		}
	}
	load := func(read func(*result.Run) (float64, bool)) func(serverResult) (float64, bool) {
		return func(s serverResult) (float64, bool) {
			if s.Load == nil {
				return 0, false
			}
			return read(s.Load)
		}
	}
	goroutinesAt := func(last bool) func(*result.Idle) (float64, bool) {
		return func(i *result.Idle) (float64, bool) {
			if len(i.Samples) == 0 {
				return 0, false
			}
			sample := i.Samples[0]
			if last {
				sample = i.Samples[len(i.Samples)-1]
			}
			if sample.Goroutines == nil {
				return 0, false
			}
			return float64(*sample.Goroutines), true
		}
	}
	fanout := func(read func(*result.Fanout) float64) func(serverResult) (float64, bool) {
		return load(func(r *result.Run) (float64, bool) {
			if r.Fanout == nil {
				return 0, false
			}
			return read(r.Fanout), true
		})
	}
	rate := func(read func(*result.Rate) float64) func(serverResult) (float64, bool) {
		return load(func(r *result.Run) (float64, bool) {
			if r.Rate == nil {
				return 0, false
			}
			return read(r.Rate), true
		})
	}
	echo := func(read func(*result.Echo) float64) func(serverResult) (float64, bool) {
		return load(func(r *result.Run) (float64, bool) {
			if r.Echo == nil {
				return 0, false
			}
			return read(r.Echo), true
		})
	}
	milliseconds := func(seconds float64) float64 { return seconds * 1e3 }
	return []figure{
		{name: "RSS per idle connection (B)", digits: 0, target: "≤ 1,300 and ≤ baseline/10",
			value: idle(func(i *result.Idle) (float64, bool) { return i.RSSPerConnection, true })},
		{name: "Go heap per idle connection (B)", digits: 0, target: "≤ 900",
			value: idle(func(i *result.Idle) (float64, bool) {
				if i.HeapPerConnection == nil {
					return 0, false
				}
				return *i.HeapPerConnection, true
			})},
		{name: "kernel TCP per connection, both ends (B)", digits: 0, target: "(machine-wide, outside RSS)",
			value: idle(func(i *result.Idle) (float64, bool) {
				if i.KernelSocketsPerConn == nil {
					return i.KernelBuffersPerConn, true
				}
				return *i.KernelSocketsPerConn + i.KernelBuffersPerConn, true
			})},
		{name: "goroutines at the first idle step", digits: 0, target: "flat", value: idle(goroutinesAt(false))},
		{name: fmt.Sprintf("goroutines at %d idle connections", connections), digits: 0, target: "flat", value: idle(goroutinesAt(true))},
		{name: "connect rate (/s)", digits: 0, target: "≥ bare",
			value: load(func(r *result.Run) (float64, bool) {
				if r.Connect == nil {
					return 0, false
				}
				return r.Connect.PerSecond, true
			})},
		{name: "connect: server CPU per connection (µs)", digits: 0,
			value: load(func(r *result.Run) (float64, bool) {
				if r.Connect == nil || r.Connect.CPU.Server == nil || r.Connect.Connected == 0 {
					return 0, false
				}
				return *r.Connect.CPU.Server * 1e6 / float64(r.Connect.Connected), true
			})},
		{name: "fan-out latency p50 (ms)", digits: 1, value: fanout(func(f *result.Fanout) float64 { return milliseconds(f.Latency.P50) })},
		{name: "fan-out latency p99 (ms)", digits: 1, value: fanout(func(f *result.Fanout) float64 { return milliseconds(f.Latency.P99) })},
		{name: "fan-out: last connection, p50 (ms)", digits: 1, target: "≤ 1.1 × bare",
			value: fanout(func(f *result.Fanout) float64 { return milliseconds(f.Last.P50) })},
		{name: "fan-out: last connection, max (ms)", digits: 1, value: fanout(func(f *result.Fanout) float64 { return milliseconds(f.Last.Max) })},
		{name: "fan-out lost", digits: 0, target: "0", value: fanout(func(f *result.Fanout) float64 { return float64(f.Lost) })},
		{name: "fan-out server CPU per 1,000 deliveries (ms)", digits: 2,
			value: load(func(r *result.Run) (float64, bool) {
				if r.Fanout == nil || r.Fanout.CPU.Server == nil || r.Fanout.Received == 0 {
					return 0, false
				}
				return *r.Fanout.CPU.Server * 1e6 / float64(r.Fanout.Received), true
			})},
		{name: "sustained deliveries (/s)", digits: 0, target: "offered " + formatValue(offered, true, 0) + "; ≥ 150,000 at 15,000",
			value: rate(func(r *result.Rate) float64 { return r.DeliveredPerSecond })},
		{name: "sustained latency p50 (ms)", digits: 1, value: rate(func(r *result.Rate) float64 { return milliseconds(r.Latency.P50) })},
		{name: "sustained latency p99 (ms)", digits: 1, target: "< 1,000", value: rate(func(r *result.Rate) float64 { return milliseconds(r.Latency.P99) })},
		{name: "sustained lost", digits: 0, target: "0", value: rate(func(r *result.Rate) float64 { return float64(r.Lost) })},
		{name: "echo round trips (/s)", digits: 0, value: echo(func(e *result.Echo) float64 { return e.PerSecond })},
		{name: "echo latency p99 (ms)", digits: 1, value: echo(func(e *result.Echo) float64 { return milliseconds(e.Latency.P99) })},
	}
}

// compareTable renders the comparison as a Markdown table with the ratios of the
// first server to each of the others.
func compareTable(results []serverResult, connections int, offered float64) string {
	var out strings.Builder
	out.WriteString("| figure |")
	for _, s := range results {
		out.WriteString(" " + s.Name + " |")
	}
	for _, s := range results[1:] {
		out.WriteString(" " + results[0].Name + "/" + s.Name + " |")
	}
	out.WriteString(" target |\n|---|")
	out.WriteString(strings.Repeat("---:|", 2*len(results)-1))
	out.WriteString("---|\n")
	for _, f := range figures(connections, offered) {
		values := make([]float64, len(results))
		known := make([]bool, len(results))
		out.WriteString("| " + f.name + " |")
		for i, s := range results {
			values[i], known[i] = f.value(s)
			out.WriteString(" " + formatValue(values[i], known[i], f.digits) + " |")
		}
		for i := 1; i < len(results); i++ {
			out.WriteString(" " + formatRatio(values[0], known[0], values[i], known[i]) + " |")
		}
		out.WriteString(" " + f.target + " |\n")
	}
	return out.String()
}

// formatValue prints a figure with thousands separators, or "n/a".
func formatValue(value float64, known bool, digits int) string {
	if !known || math.IsNaN(value) {
		return "n/a"
	}
	text := fmt.Sprintf("%.*f", digits, value)
	whole, fraction, hasFraction := strings.Cut(text, ".")
	negative := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var grouped strings.Builder
	for i, digit := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			grouped.WriteByte(',')
		}
		grouped.WriteRune(digit)
	}
	text = grouped.String()
	if negative {
		text = "-" + text
	}
	if hasFraction {
		text += "." + fraction
	}
	return text
}

// formatRatio prints numerator/denominator as "0.07×", or "–" when it has no meaning.
func formatRatio(numerator float64, numeratorKnown bool, denominator float64, denominatorKnown bool) string {
	if !numeratorKnown || !denominatorKnown || denominator == 0 {
		return "–"
	}
	ratio := numerator / denominator
	if math.Abs(ratio) >= 10 {
		return fmt.Sprintf("%.0f×", ratio)
	}
	return fmt.Sprintf("%.2f×", ratio)
}
