package engine

import (
	"testing"
	"unicode/utf8"
)

// FuzzUTF8Validator holds the incremental validator to the standard library's
// utf8.Valid, whole and split at any point.
func FuzzUTF8Validator(f *testing.F) {
	for _, seed := range []string{"", "ascii only, longer than eight", "κόσμε", "😀€", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "ok \xe2\x82", "\xff"} {
		f.Add([]byte(seed), uint8(1))
	}
	f.Fuzz(func(t *testing.T, text []byte, cut uint8) {
		want := utf8.Valid(text)
		if got := validUTF8(text); got != want {
			t.Fatalf("validUTF8(%q) = %v, utf8.Valid says %v", text, got, want)
		}
		split := min(int(cut), len(text))
		var validator utf8Validator
		got := validator.write(text[:split]) && validator.write(text[split:]) && validator.complete()
		if got != want {
			t.Fatalf("%q split at %d: %v, utf8.Valid says %v", text, split, got, want)
		}
	})
}

// TestUTF8FailsAtTheFirstImpossibleByte: a prefix that no continuation can make
// valid is refused at once, without waiting for the end of the character.
func TestUTF8FailsAtTheFirstImpossibleByte(t *testing.T) {
	for _, prefix := range []string{"\xe0\x80", "\xed\xa0", "\xf0\x80", "\xf4\x90", "\xf5", "\xc1"} {
		var validator utf8Validator
		if validator.write([]byte(prefix)) {
			t.Errorf("prefix %q accepted", prefix)
		}
	}
	var validator utf8Validator
	if !validator.write([]byte("\xf0\x9f")) || validator.complete() {
		t.Error("an unfinished but possible character must be accepted and incomplete")
	}
}
