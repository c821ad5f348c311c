package chart

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
	chart := LineChart{
		Title:  `RSS <&> connections`,
		XLabel: "connections",
		YLabel: "MiB",
		Lines: []Series{
			{Name: "wsgate", Color: "#1f77b4", Points: []stats.Point{{X: 1000, Y: 10}, {X: 15000, Y: 28}}},
			{Name: "baseline", Color: "#d62728", Dashed: true, Points: []stats.Point{{X: 1000, Y: 30}, {X: 15000, Y: 290}}},
		},
		Note: "a note",
	}
	document := chart.SVG()
	if polylines := countPolylines(t, document); polylines != 2 {
		t.Fatalf("%d polylines, want 2", polylines)
	}
	if !strings.Contains(document, "RSS &lt;&amp;&gt; connections") || !strings.Contains(document, `stroke-dasharray`) {
		t.Fatal("title not escaped or dashed line missing")
	}
}

func TestStackIsWellFormedSVGWithEveryPanel(t *testing.T) {
	panel := LineChart{Title: "goroutines", Lines: []Series{{Name: "now", Color: "#000", Points: []stats.Point{{X: 0, Y: 5}, {X: 10, Y: 6}}}}}
	document := Stack(panel, panel, panel)
	if polylines := countPolylines(t, document); polylines != 3 {
		t.Fatalf("%d polylines, want 3", polylines)
	}
	if !strings.Contains(document, `y="840"`) {
		t.Fatal("the third panel is not placed below the second")
	}
}

// countPolylines parses document as XML, failing the test when it is not
// well-formed, and counts its polylines.
func countPolylines(t *testing.T, document string) int {
	t.Helper()
	decoder := xml.NewDecoder(strings.NewReader(document))
	polylines := 0
	for {
		token, err := decoder.Token()
		if err == io.EOF {
			return polylines
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, document)
		}
		if start, ok := token.(xml.StartElement); ok && start.Name.Local == "polyline" {
			polylines++
		}
	}
}
