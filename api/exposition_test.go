package api

import "testing"

func TestInfoFamiliesEscapeTheirLabelValues(t *testing.T) {
	var out exposition
	out.info("wsgate_build_info", "The build.", [][2]string{{"version", `v1 "quoted" \ back` + "\nslash"}, {"commit", "abc"}})
	want := "# HELP wsgate_build_info The build.\n# TYPE wsgate_build_info gauge\n" +
		`wsgate_build_info{version="v1 \"quoted\" \\ back\nslash",commit="abc"} 1` + "\n"
	if got := out.buffer.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
