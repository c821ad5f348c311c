package engine

import "encoding/binary"

// utf8Validator checks UTF-8 incrementally, so that a text message can be judged
// fragment by fragment, and even within a frame as its bytes arrive: RFC 6455 §8.1
// asks to fail the connection as soon as the bytes received so far cannot be the
// start of valid UTF-8, not once the whole message is in. It follows the
// well-formed byte sequences of Unicode (table 3-7): no overlong forms, no
// surrogates, nothing above U+10FFFF. The zero value expects the start of a
// character. It is 3 bytes; not safe for concurrent use.
type utf8Validator struct {
	// pending is the number of continuation bytes the current character still needs.
	pending uint8
	// low and high bound the next continuation byte (narrower than 0x80-0xBF right
	// after some lead bytes).
	low, high uint8
}

// asciiMask has the high bit of every byte of a 64-bit word set.
const asciiMask = 0x8080808080808080

// write checks the next bytes of the text; it reports false as soon as they cannot
// continue valid UTF-8. After a false the validator must not be used again.
func (v *utf8Validator) write(text []byte) bool {
	for len(text) > 0 {
		if v.pending == 0 {
			// Most text is ASCII: skip it eight bytes at a time.
			for len(text) >= 8 && binary.LittleEndian.Uint64(text)&asciiMask == 0 {
				text = text[8:]
			}
			if len(text) == 0 {
				return true
			}
			lead := text[0]
			text = text[1:]
			if lead < 0x80 {
				continue
			}
			if !v.start(lead) {
				return false
			}
			continue
		}
		next := text[0]
		if next < v.low || next > v.high {
			return false
		}
		text = text[1:]
		v.pending--
		v.low, v.high = 0x80, 0xBF
	}
	return true
}

// start begins a multi-byte character with its lead byte; false for a byte that
// cannot lead one.
func (v *utf8Validator) start(lead byte) bool {
	v.low, v.high = 0x80, 0xBF
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		v.pending = 1
	case lead == 0xE0: // no overlong three-byte forms
		v.pending, v.low = 2, 0xA0
	case lead == 0xED: // no surrogates (U+D800-U+DFFF)
		v.pending, v.high = 2, 0x9F
	case lead >= 0xE1 && lead <= 0xEF:
		v.pending = 2
	case lead == 0xF0: // no overlong four-byte forms
		v.pending, v.low = 3, 0x90
	case lead >= 0xF1 && lead <= 0xF3:
		v.pending = 3
	case lead == 0xF4: // nothing above U+10FFFF
		v.pending, v.high = 3, 0x8F
	default:
		return false
	}
	return true
}

// complete reports whether the text so far ends on a character boundary: a message
// whose last fragment leaves a character unfinished is invalid.
func (v *utf8Validator) complete() bool { return v.pending == 0 }

// validUTF8 reports whether text is complete, valid UTF-8 by the same rules.
func validUTF8(text []byte) bool {
	var v utf8Validator
	return v.write(text) && v.complete()
}
