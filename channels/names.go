package channels

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest channel name, in bytes.
const MaxNameLength = 255

// NamespaceSeparator separates a channel's namespace from the rest of its name:
// "chat:lobby" is in namespace "chat"; a name without it is in the default
// namespace "".
const NamespaceSeparator = ':'

// ValidateName checks a channel name: 1 to MaxNameLength bytes of valid UTF-8 with no
// control character (Unicode category Cc) and no whitespace (Unicode White_Space).
// Every other character is allowed, including ':', '#', '/', '%' and '*'. It returns
// nil or an *Error with CodeInvalidChannel saying what is wrong and at which byte. It
// allocates only when the name is invalid. Safe for concurrent use.
func ValidateName(name string) error {
	if name == "" {
		return &Error{CodeInvalidChannel, "channel name is empty"}
	}
	if len(name) > MaxNameLength {
		return &Error{CodeInvalidChannel, fmt.Sprintf("channel name is %d bytes long, more than %d", len(name), MaxNameLength)}
	}
	return validateCharacters("channel name", name)
}

// validateCharacters checks that text is valid UTF-8 with no control character and no
// whitespace; what names the text in the error message.
func validateCharacters(what, text string) error {
	for offset := 0; offset < len(text); {
		character, size := rune(text[offset]), 1
		if character >= utf8.RuneSelf {
			character, size = utf8.DecodeRuneInString(text[offset:])
			if character == utf8.RuneError && size == 1 {
				return &Error{CodeInvalidChannel, fmt.Sprintf("%s is not valid UTF-8 at byte %d", what, offset)}
			}
		}
		if unicode.IsControl(character) || unicode.IsSpace(character) {
			return &Error{CodeInvalidChannel, fmt.Sprintf("%s contains a control character or whitespace at byte %d", what, offset)}
		}
		offset += size
	}
	return nil
}

// NamespaceOf returns the namespace of a channel: the part of its name before the
// first NamespaceSeparator, or "" (the default namespace) when there is none.
func NamespaceOf(channel string) string {
	if index := strings.IndexByte(channel, NamespaceSeparator); index >= 0 {
		return channel[:index]
	}
	return ""
}

// localName returns the part of a channel's name after its namespace and separator,
// or the whole name in the default namespace.
func localName(channel string) string {
	if index := strings.IndexByte(channel, NamespaceSeparator); index >= 0 {
		return channel[index+1:]
	}
	return channel
}
