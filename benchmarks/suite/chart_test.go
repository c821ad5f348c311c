package main

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

func TestNiceTicksCoverTheLimitInRoundSteps(t *testing.T) {
	for _, check := range []struct {
		limit float64
		want  []float64
	}{
		{limit: 58.3, want: []float64{0, 10, 20, 30, 40, 50, 60}},
		{limit: 15000, want: []float64{0, 5000, 10000, 15000}},
		{limit: 1, want: []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{limit: 0, want: []float64{0, 1}},
	} {
		got := niceTicks(check.limit)
		if len(got) != len(check.want) || got[len(got)-1] < check.limit {
			t.Errorf("niceTicks(%v) = %v, want %v", check.limit, got, check.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-check.want[i]) > 1e-9 {
				t.Errorf("niceTicks(%v) = %v, want %v", check.limit, got, check.want)
				break
			}
		}
	}
}

func TestChartIsWellFormedSVGWithOneLinePerSeries(t *testing.T) {
	chart := lineChart{
		title:  `RSS <&> connections`,
		xLabel: "connections",
		yLabel: "MiB",
		lines: []series{
			{name: "wsgate", color: "#1f77b4", points: []stats.Point{{X: 1000, Y: 10}, {X: 15000, Y: 28}}},
			{name: "baseline", color: "#d62728", dashed: true, points: []stats.Point{{X: 1000, Y: 30}, {X: 15000, Y: 290}}},
		},
		note: "a note",
	}
	document := chart.svg()
	decoder := xml.NewDecoder(strings.NewReader(document))
	polylines := 0
	for {
		token, err := decoder.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, document)
		}
		if start, ok := token.(xml.StartElement); ok && start.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 2 {
		t.Fatalf("%d polylines, want 2", polylines)
	}
	if !strings.Contains(document, "RSS &lt;&amp;&gt; connections") || !strings.Contains(document, `stroke-dasharray`) {
		t.Fatal("title not escaped or dashed line missing")
	}
}
