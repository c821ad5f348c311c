package channels

import (
	"strings"
	"testing"
)

func TestPatternsMatchExactNamesAndPrefixes(t *testing.T) {
	patterns, err := NewPatterns([]string{"news", "chat:*", "scores:football:*", "news", "odd*name"})
	if err != nil {
		t.Fatal(err)
	}
	for channel, want := range map[string]bool{
		"news":                    true,
		"news:extra":              false,
		"new":                     false,
		"chat:lobby":              true,
		"chat:":                   true,
		"chat":                    false,
		"scores:football:arsenal": true,
		"scores:tennis:final":     false,
		"odd*name":                true, // a '*' inside a pattern is an ordinary character
		"oddXname":                false,
		"odd*names":               false,
	} {
		if got := patterns.Match(channel); got != want {
			t.Errorf("Match(%q) = %v, want %v", channel, got, want)
		}
	}
}

func TestPatternsStarMatchesEverythingAndZeroMatchesNothing(t *testing.T) {
	everything, err := NewPatterns([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	var nothing Patterns
	for _, channel := range []string{"a", "chat:lobby", strings.Repeat("z", MaxNameLength)} {
		if !everything.Match(channel) || nothing.Match(channel) {
			t.Errorf("channel %q: \"*\" matches %v (want true), zero Patterns %v (want false)",
				channel, everything.Match(channel), nothing.Match(channel))
		}
	}
}

func TestPatternsRefuseInvalidEntriesByPosition(t *testing.T) {
	for _, test := range []struct {
		patterns []string
		position string
	}{
		{[]string{"ok", ""}, "pattern 1"},
		{[]string{"bad name"}, "pattern 0"},
		{[]string{"ok", "fine:*", "bad prefix:*"}, "pattern 2"},
		{[]string{strings.Repeat("x", MaxNameLength) + "*"}, "pattern 0"},
		{[]string{"\xff*"}, "pattern 0"},
	} {
		_, err := NewPatterns(test.patterns)
		if err == nil || !strings.Contains(err.Error(), test.position) {
			t.Errorf("NewPatterns(%q) = %v, want an error naming %s", test.patterns, err, test.position)
		}
	}
}
