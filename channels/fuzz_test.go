package channels

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// documentedName is the grammar of docs/protocol.md ("Names"), written apart from
// ValidateName: 1 to 255 bytes of valid UTF-8 with no character of Unicode category
// Cc and none with the White_Space property.
func documentedName(name string) bool {
	if len(name) < 1 || len(name) > 255 || !utf8.ValidString(name) {
		return false
	}
	return !strings.ContainsFunc(name, func(character rune) bool {
		return unicode.Is(unicode.Cc, character) || unicode.Is(unicode.White_Space, character)
	})
}

// FuzzValidateName checks ValidateName against documentedName on arbitrary text
// (seeds in testdata/fuzz/FuzzValidateName: the names of the tests, valid and not),
// and that every invalid name gets an invalid_channel *Error while the namespace
// functions split any name without panicking.
func FuzzValidateName(f *testing.F) {
	namespaces, err := NewNamespaces([]NamespaceOptions{{Name: "chat", Publish: PublishSubscribers}, {Name: "inbox", Personal: true}}, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if valid := documentedName(name); valid != (err == nil) {
			t.Fatalf("ValidateName(%q) = %v; the documented grammar says valid=%v", name, err, valid)
		}
		if err != nil {
			var refusal *Error
			if !errors.As(err, &refusal) || refusal.Code != CodeInvalidChannel || !errors.Is(err, ErrInvalidChannel) || refusal.Message == "" {
				t.Fatalf("ValidateName(%q) = %#v, want an *Error with code %s", name, err, CodeInvalidChannel)
			}
			return
		}
		namespace := NamespaceOf(name)
		if strings.ContainsRune(namespace, NamespaceSeparator) {
			t.Fatalf("NamespaceOf(%q) = %q holds the separator", name, namespace)
		}
		if joined := namespace + string(NamespaceSeparator) + localName(name); strings.ContainsRune(name, NamespaceSeparator) && joined != name {
			t.Fatalf("%q splits into %q and %q", name, namespace, localName(name))
		}
		options := namespaces.Lookup(name)
		if options.Name != namespace && options.Name != "" {
			t.Fatalf("Lookup(%q) found namespace %q, the name's is %q", name, options.Name, namespace)
		}
	})
}

// FuzzPatterns compiles an arbitrary pattern and matches an arbitrary channel (seeds
// in testdata/fuzz/FuzzPatterns), checking against the documented meaning: a pattern
// is a valid name, or such a name's prefix followed by '*' (at most 255 bytes in
// all), and matches the very name, or every name with that prefix. It also checks the
// personal namespace rule of SubscribePermission for userID: the channel's local name
// is the user, or lists the user after its first '#' among comma-separated ids.
func FuzzPatterns(f *testing.F) {
	personal := NamespaceOptions{Name: "inbox", Personal: true}.withDefaults(true)
	f.Fuzz(func(t *testing.T, pattern, channel, userID string) {
		patterns, err := NewPatterns([]string{pattern, pattern})
		prefix, isPrefix := strings.CutSuffix(pattern, "*")
		wellFormed := documentedName(pattern)
		if isPrefix {
			wellFormed = len(pattern) <= MaxNameLength && (prefix == "" || documentedName(prefix))
		}
		if wellFormed != (err == nil) {
			t.Fatalf("NewPatterns(%q) = %v; the documented grammar says valid=%v", pattern, err, wellFormed)
		}
		want := err == nil && (channel == pattern || (isPrefix && strings.HasPrefix(channel, prefix)))
		if got := patterns.Match(channel); got != want {
			t.Fatalf("pattern %q matches %q: %v, want %v", pattern, channel, got, want)
		}
		if ValidateName(channel) != nil {
			return
		}
		local := channel[strings.IndexByte(channel, ':')+1:]
		_, users, listed := strings.Cut(local, "#")
		owner := userID != "" && (local == userID || (listed && slices.Contains(strings.Split(users, ","), userID)))
		allowed := SubscribePermission(personal, Connection{UserID: userID}, channel, "") == nil
		if allowed != owner {
			t.Fatalf("user %q may subscribe to personal channel %q: %v, want %v", userID, channel, allowed, owner)
		}
	})
}
