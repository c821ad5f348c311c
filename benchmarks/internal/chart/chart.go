// Package chart draws the benchmarks' line charts as standalone SVG documents,
// with no tool beyond Go: the suite's memory and latency charts and the soak's
// time series. Everything here is a pure function of its arguments.
package chart

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// Plot area of every chart, in SVG user units.
const (
	chartWidth   = 720
	chartHeight  = 420
	marginLeft   = 80
	marginRight  = 150
	marginTop    = 40
	marginBottom = 60
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Color  string
	Dashed bool
	Points []stats.Point
}

// LineChart is a chart of lines on linear axes that start at zero, chartWidth by
// chartHeight SVG units. Note is a line of small print under the axes.
type LineChart struct {
	Title  string
	XLabel string
	YLabel string
	Lines  []Series
	Note   string
}

// SVG renders the chart as a standalone SVG document.
func (c LineChart) SVG() string {
	xMax, yMax := 0.0, 0.0
	for _, line := range c.Lines {
		for _, point := range line.Points {
			xMax, yMax = math.Max(xMax, point.X), math.Max(yMax, point.Y)
		}
	}
	xTicks, yTicks := niceTicks(xMax), niceTicks(yMax)
	xMax, yMax = xTicks[len(xTicks)-1], yTicks[len(yTicks)-1]
	plotWidth := float64(chartWidth - marginLeft - marginRight)
	plotHeight := float64(chartHeight - marginTop - marginBottom)
	x := func(value float64) float64 { return marginLeft + value/xMax*plotWidth }
	y := func(value float64) float64 { return marginTop + plotHeight - value/yMax*plotHeight }

	var out strings.Builder
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&out, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartWidth, chartHeight)
	fmt.Fprintf(&out, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginLeft, html.EscapeString(c.Title))
	for _, tick := range xTicks {
		fmt.Fprintf(&out, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(tick), marginTop, x(tick), y(0))
		fmt.Fprintf(&out, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(tick), y(0)+18, formatTick(tick))
	}
	for _, tick := range yTicks {
		fmt.Fprintf(&out, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", marginLeft, y(tick), x(xMax), y(tick))
		fmt.Fprintf(&out, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-8, y(tick)+4, formatTick(tick))
	}
	fmt.Fprintf(&out, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", marginLeft, marginTop, plotWidth, plotHeight)
	fmt.Fprintf(&out, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(xMax/2), chartHeight-22, html.EscapeString(c.XLabel))
	fmt.Fprintf(&out, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", y(yMax/2), html.EscapeString(c.YLabel))
	for index, line := range c.Lines {
		coordinates := make([]string, len(line.Points))
		for i, point := range line.Points {
			coordinates[i] = fmt.Sprintf("%.1f,%.1f", x(point.X), y(point.Y))
		}
		dash := ""
		if line.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&out, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coordinates, " "), line.Color, dash)
		legendY := marginTop + 10 + index*20
		fmt.Fprintf(&out, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n",
			chartWidth-marginRight+12, legendY, chartWidth-marginRight+36, legendY, line.Color, dash)
		fmt.Fprintf(&out, `<text x="%d" y="%d">%s</text>`+"\n", chartWidth-marginRight+42, legendY+4, html.EscapeString(line.Name))
	}
	if c.Note != "" {
		fmt.Fprintf(&out, `<text x="%d" y="%d" font-size="10" fill="#555">%s</text>`+"\n", marginLeft, chartHeight-6, html.EscapeString(c.Note))
	}
	out.WriteString("</svg>\n")
	return out.String()
}

// Stack renders charts one above the other as one standalone SVG document, for a
// page of panels that share the x axis but not the y axis.
func Stack(charts ...LineChart) string {
	var out strings.Builder
	height := chartHeight * len(charts)
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n",
		chartWidth, height, chartWidth, height)
	for index, chart := range charts {
		panel := strings.Replace(chart.SVG(), "<svg ", fmt.Sprintf(`<svg x="0" y="%d" `, index*chartHeight), 1)
		out.WriteString(panel)
	}
	out.WriteString("</svg>\n")
	return out.String()
}

// niceTicks returns evenly spaced ticks from 0 to at least limit, with a step of 1,
// 2 or 5 times a power of ten and at most about six intervals.
func niceTicks(limit float64) []float64 {
	if limit <= 0 || math.IsNaN(limit) || math.IsInf(limit, 0) {
		return []float64{0, 1}
	}
	magnitude := math.Pow(10, math.Floor(math.Log10(limit/5)))
	step := magnitude
	for _, factor := range []float64{1, 2, 5, 10} {
		step = factor * magnitude
		if limit/step <= 6 {
			break
		}
	}
	ticks := []float64{0}
	for ticks[len(ticks)-1] < limit {
		ticks = append(ticks, float64(len(ticks))*step)
	}
	return ticks
}

// formatTick prints a tick value without needless decimals.
func formatTick(value float64) string {
	if value == math.Trunc(value) {
		return fmt.Sprintf("%.0f", value)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", value), "0"), ".")
}
