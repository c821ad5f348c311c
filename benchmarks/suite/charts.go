package main

import (
	"fmt"

	"github.com/wsgate/wsgate/benchmarks/internal/chart"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// colors of the servers in every chart, in the order of serverSpecs.
var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// memoryChart draws server RSS (solid) and Go heap (dashed, where known) against
// idle connections.
func memoryChart(results []serverResult, note string) chart.LineChart {
	lineChart := chart.LineChart{
		Title:  "Server memory with idle connections (heartbeat on)",
		XLabel: "open connections",
		YLabel: "MiB (RSS solid, Go heap dashed)",
		Note:   note,
	}
	for index, s := range results {
		if s.Idle == nil || s.Idle.Idle == nil {
			continue
		}
		rss := chart.Series{Name: s.Name + " RSS", Color: colors[index%len(colors)]}
		heap := chart.Series{Name: s.Name + " heap", Color: colors[index%len(colors)], Dashed: true}
		for _, sample := range s.Idle.Idle.Samples {
			rss.Points = append(rss.Points, stats.Point{X: float64(sample.Connections), Y: float64(sample.RSS) / (1 << 20)})
			if sample.Heap != nil {
				heap.Points = append(heap.Points, stats.Point{X: float64(sample.Connections), Y: float64(*sample.Heap) / (1 << 20)})
			}
		}
		lineChart.Lines = append(lineChart.Lines, rss)
		if len(heap.Points) > 0 {
			lineChart.Lines = append(lineChart.Lines, heap)
		}
	}
	return lineChart
}

// latencyChart draws the cumulative distribution of fan-out latency (send to
// receipt, every delivery of every broadcast) for each server.
func latencyChart(results []serverResult, note string) chart.LineChart {
	lineChart := chart.LineChart{
		Title:  "Fan-out latency, every delivery of every broadcast",
		XLabel: "milliseconds from send to receipt",
		YLabel: "% of deliveries",
		Note:   note,
	}
	for index, s := range results {
		if s.Load == nil || s.Load.Fanout == nil {
			continue
		}
		fanout := s.Load.Fanout
		line := chart.Series{
			Name:   fmt.Sprintf("%s (%d)", s.Name, fanout.Connections),
			Color:  colors[index%len(colors)],
			Points: []stats.Point{{X: 0, Y: 0}},
		}
		for _, point := range fanout.Distribution.Cumulative() {
			line.Points = append(line.Points, stats.Point{X: float64(point.Value.Microseconds()) / 1e3, Y: point.Fraction * 100})
		}
		lineChart.Lines = append(lineChart.Lines, line)
	}
	return lineChart
}
