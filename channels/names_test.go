package channels

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateNameAcceptsEveryPrintableCharacter(t *testing.T) {
	for _, name := range []string{
		"a",
		"news",
		"chat:lobby",
		"chat:room#alice,bob",
		"path/with%25escapes?and=query&more",
		"ünïcödé:チャンネル",
		"emoji:🎉",
		"*",
		":leading-separator",
		strings.Repeat("x", MaxNameLength),
		strings.Repeat("é", MaxNameLength/2), // 254 bytes of two-byte characters
	} {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
}

func TestValidateNameRefusesWithInvalidChannel(t *testing.T) {
	for _, test := range []struct {
		name, why string
	}{
		{"", "empty"},
		{strings.Repeat("x", MaxNameLength+1), "256 bytes"},
		{strings.Repeat("é", MaxNameLength/2) + "é", "256 bytes of two-byte characters"},
		{"a b", "space"},
		{"a\tb", "tab"},
		{"a\nb", "newline"},
		{"a\x00b", "NUL"},
		{"a\x1bb", "escape"},
		{"a\x7fb", "DEL"},
		{"a\u0085b", "NEL (C1 control and whitespace)"},
		{"a\u009bb", "CSI (C1 control)"},
		{"a\u00a0b", "no-break space"},
		{"a\u2028b", "line separator"},
		{"a\u3000b", "ideographic space"},
		{"a\xffb", "byte that starts no UTF-8 sequence"},
		{"a\xe2\x82", "truncated UTF-8 sequence"},
		{"a\xed\xa0\x80b", "UTF-16 surrogate encoded as UTF-8"},
	} {
		err := ValidateName(test.name)
		var channelError *Error
		if !errors.As(err, &channelError) || channelError.Code != CodeInvalidChannel || !errors.Is(err, ErrInvalidChannel) {
			t.Errorf("ValidateName(%s) = %v, want an invalid_channel error", test.why, err)
		}
	}
}

func TestValidateNameSaysWhereTheBadByteIs(t *testing.T) {
	err := ValidateName("chat:a b")
	if err == nil || !strings.Contains(err.Error(), "at byte 6") {
		t.Fatalf("ValidateName(\"chat:a b\") = %v, want the offset 6 in the message", err)
	}
}

func TestNamespaceIsThePartBeforeTheFirstSeparator(t *testing.T) {
	for channel, want := range map[string]string{
		"news":            "",
		"chat:lobby":      "chat",
		"chat:room:42":    "chat",
		":odd":            "",
		"personal:#alice": "personal",
		"a#b:c":           "a#b",
	} {
		if got := NamespaceOf(channel); got != want {
			t.Errorf("NamespaceOf(%q) = %q, want %q", channel, got, want)
		}
	}
}

func TestErrorsAreDistinctAndCarryTheirWireCode(t *testing.T) {
	all := map[*Error]string{
		ErrInvalidChannel:       "invalid_channel",
		ErrAlreadySubscribed:    "already_subscribed",
		ErrNotSubscribed:        "not_subscribed",
		ErrTooManySubscriptions: "too_many_subscriptions",
		ErrTooManySubscribers:   "too_many_subscribers",
		ErrPermissionDenied:     "permission_denied",
		ErrPublishNotAllowed:    "publish_not_allowed",
	}
	for err, code := range all {
		if err.Code != code || err.Message == "" {
			t.Errorf("%v has code %q, want %q and a message", err, err.Code, code)
		}
		for other := range all {
			if (other == err) != errors.Is(err, other) {
				t.Errorf("errors.Is(%q, %q) = %v", err.Code, other.Code, errors.Is(err, other))
			}
		}
	}
}
