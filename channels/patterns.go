package channels

import (
	"fmt"
	"slices"
	"strings"
)

// PatternWildcard ends a prefix pattern: "chat:*" matches every channel whose name
// starts with "chat:", and "*" alone matches every channel.
const PatternWildcard = '*'

// Patterns is a compiled list of channel patterns, as a token's "subscribe" and
// "publish" claims hold them. A pattern is an exact channel name, or a prefix followed
// by PatternWildcard; a '*' anywhere but at the end is an ordinary character of the
// name (so no pattern matches exactly a channel whose name ends in '*'). The zero
// Patterns matches nothing. Immutable once built and safe for concurrent use.
type Patterns struct {
	// exact is sorted, for binary search; prefixes are checked one by one (tokens
	// carry a few).
	exact    []string
	prefixes []string
	// everything is set by the pattern "*".
	everything bool
}

// NewPatterns compiles patterns. Each must be a valid channel name (ValidateName) or
// such a name's prefix followed by '*'; the error names the first that is not, by
// position and value. Duplicates are dropped. Safe for concurrent use.
func NewPatterns(patterns []string) (Patterns, error) {
	var compiled Patterns
	for position, pattern := range patterns {
		prefix, isPrefix := strings.CutSuffix(pattern, string(PatternWildcard))
		var err error
		switch {
		case !isPrefix:
			err = ValidateName(pattern)
		case len(pattern) > MaxNameLength:
			err = fmt.Errorf("longer than %d bytes", MaxNameLength)
		default:
			err = validateCharacters("prefix", prefix)
		}
		if err != nil {
			return Patterns{}, fmt.Errorf("channel pattern %d (%q): %w", position, pattern, err)
		}
		switch {
		case !isPrefix:
			compiled.exact = append(compiled.exact, pattern)
		case prefix == "":
			compiled.everything = true
		default:
			compiled.prefixes = append(compiled.prefixes, prefix)
		}
	}
	slices.Sort(compiled.exact)
	compiled.exact = slices.Compact(compiled.exact)
	slices.Sort(compiled.prefixes)
	compiled.prefixes = slices.Compact(compiled.prefixes)
	return compiled, nil
}

// Match reports whether channel matches any of the patterns, in O(log exact names +
// prefixes) with no allocation.
func (p Patterns) Match(channel string) bool {
	if p.everything {
		return true
	}
	if _, found := slices.BinarySearch(p.exact, channel); found {
		return true
	}
	for _, prefix := range p.prefixes {
		if strings.HasPrefix(channel, prefix) {
			return true
		}
	}
	return false
}
