package main

import (
	"strings"
	"testing"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

func TestFormatValueAndRatio(t *testing.T) {
	for _, check := range []struct {
		value  float64
		digits int
		want   string
	}{{1234567.891, 0, "1,234,568"}, {999, 0, "999"}, {1234.5, 1, "1,234.5"}, {-12345, 0, "-12,345"}, {0.25, 2, "0.25"}} {
		if got := formatValue(check.value, true, check.digits); got != check.want {
			t.Errorf("formatValue(%v, %d) = %q, want %q", check.value, check.digits, got, check.want)
		}
	}
	if formatValue(1, false, 0) != "n/a" {
		t.Error("unknown values print n/a")
	}
	if got := formatRatio(1200, true, 18000, true); got != "0.07×" {
		t.Errorf("ratio = %q", got)
	}
	if got := formatRatio(3, true, 0, true); got != "–" {
		t.Errorf("ratio over zero = %q", got)
	}
	if got := formatRatio(15, true, 1, true); got != "15×" {
		t.Errorf("large ratio = %q", got)
	}
}

func TestCompareTableHasRatiosAgainstEachOtherServer(t *testing.T) {
	idle := func(rss float64) *result.Run { return &result.Run{Idle: &result.Idle{RSSPerConnection: rss}} }
	table := compareTable([]serverResult{
		{Name: "wsgate", Idle: idle(1200)},
		{Name: "baseline", Idle: idle(18000)},
		{Name: "bare", Idle: idle(1200)},
	}, 15000, 150000)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if !strings.HasPrefix(lines[0], "| figure | wsgate | baseline | bare | wsgate/baseline | wsgate/bare | target |") {
		t.Fatalf("header %q", lines[0])
	}
	if len(lines) != 2+len(figures(15000, 150000)) {
		t.Fatalf("%d lines, want a header, a rule and one per figure", len(lines))
	}
	if !strings.Contains(table, "| RSS per idle connection (B) | 1,200 | 18,000 | 1,200 | 0.07× | 1.00× |") {
		t.Fatalf("RSS row missing or wrong:\n%s", table)
	}
	if !strings.Contains(table, "| connect rate (/s) | n/a | n/a | n/a | – | – |") {
		t.Fatalf("a figure without a run must be n/a:\n%s", table)
	}
}

func TestShellJoinNamesProgramsAndQuotesEmptyArguments(t *testing.T) {
	got := shellJoin([]string{"/usr/bin/taskset", "-c", "1", "/tmp/wsgate-bench-1/wsgate", "-addr", "127.0.0.1:9300", "-gc-path", ""})
	if want := "taskset -c 1 ./wsgate -addr 127.0.0.1:9300 -gc-path ''"; got != want {
		t.Fatalf("shellJoin = %q, want %q", got, want)
	}
}
