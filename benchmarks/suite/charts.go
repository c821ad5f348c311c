package main

import (
	"fmt"

	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// colors of the servers in every chart, in the order of serverSpecs.
var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// memoryChart draws server RSS (solid) and Go heap (dashed, where known) against
// idle connections.
func memoryChart(results []serverResult, note string) lineChart {
	chart := lineChart{
		title:  "Server memory with idle connections (heartbeat on)",
		xLabel: "open connections",
		yLabel: "MiB (RSS solid, Go heap dashed)",
		note:   note,
	}
	for index, s := range results {
		if s.Idle == nil || s.Idle.Idle == nil {
			continue
		}
		rss := series{name: s.Name + " RSS", color: colors[index%len(colors)]}
		heap := series{name: s.Name + " heap", color: colors[index%len(colors)], dashed: true}
		for _, sample := range s.Idle.Idle.Samples {
			rss.points = append(rss.points, stats.Point{X: float64(sample.Connections), Y: float64(sample.RSS) / (1 << 20)})
			if sample.Heap != nil {
				heap.points = append(heap.points, stats.Point{X: float64(sample.Connections), Y: float64(*sample.Heap) / (1 << 20)})
			}
		}
		chart.lines = append(chart.lines, rss)
		if len(heap.points) > 0 {
			chart.lines = append(chart.lines, heap)
		}
	}
	return chart
}

// latencyChart draws the cumulative distribution of fan-out latency (send to
// receipt, every delivery of every broadcast) for each server.
func latencyChart(results []serverResult, note string) lineChart {
	chart := lineChart{
		title:  "Fan-out latency, every delivery of every broadcast",
		xLabel: "milliseconds from send to receipt",
		yLabel: "% of deliveries",
		note:   note,
	}
	for index, s := range results {
		if s.Load == nil || s.Load.Fanout == nil {
			continue
		}
		fanout := s.Load.Fanout
		line := series{
			name:   fmt.Sprintf("%s (%d)", s.Name, fanout.Connections),
			color:  colors[index%len(colors)],
			points: []stats.Point{{X: 0, Y: 0}},
		}
		for _, point := range fanout.Distribution.Cumulative() {
			line.points = append(line.points, stats.Point{X: float64(point.Value.Microseconds()) / 1e3, Y: point.Fraction * 100})
		}
		chart.lines = append(chart.lines, line)
	}
	return chart
}
