package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLogFormatsAreTextByDefaultAndJSONOnRequest(t *testing.T) {
	code, output := runStopped(t, nil, nil)
	if code != 0 || !strings.HasPrefix(output, "time=") || !strings.Contains(output, `msg="wsgate listening"`) {
		t.Fatalf("default format: exit %d, output %q; want slog text records", code, output)
	}
	code, output = runStopped(t, []string{"-log-format", "json"}, nil)
	if code != 0 {
		t.Fatalf("exit %d, output %q", code, output)
	}
	messages := map[string]bool{}
	for line := range strings.Lines(output) {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("-log-format json wrote a line that is not JSON: %q", line)
		}
		if _, found := record["time"]; !found || record["level"] == nil {
			t.Fatalf("record without time or level: %q", line)
		}
		messages[record["msg"].(string)] = true
	}
	if !messages["wsgate listening"] || !messages["stopped"] {
		t.Fatalf("the JSON records lack the start and stop messages: %q", output)
	}
}
