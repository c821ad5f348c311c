package engine

import (
	"net/http"
	"strings"
)

// The negotiation of permessage-deflate (RFC 7692). wsgate compresses every message
// on its own (no context carried from one message to the next) and inflates every
// client message with a pooled decompressor, so a connection keeps no compression
// state: it accepts an offer only in the form that allows exactly that, and answers
// with both no-context-takeover parameters.

// deflateAnswer is the Sec-WebSocket-Extensions line of an accepted offer: the server
// resets its compressor per message (server_no_context_takeover) and asks the client
// to do the same (client_no_context_takeover, which a server may add to any offer,
// §7.1.1.2), so every client message can be inflated without the previous ones.
const deflateAnswer = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"

// acceptsDeflateOffer reports whether one of the request's permessage-deflate offers
// can be accepted. Offers are tried in the client's order of preference (§5.1); an
// offer is declined, and the next one tried, when it carries an unknown parameter, a
// parameter twice, a value where none is allowed or an invalid one (§7), or asks the
// server for a window below 2^15 bytes (server_max_window_bits under 15), which
// Go's compressor cannot honour. client_max_window_bits only says the client could
// take such a limit; wsgate's inflater reads any window, so it is not answered.
func acceptsDeflateOffer(header http.Header) bool {
	for _, value := range header.Values("Sec-WebSocket-Extensions") {
		for offer := range strings.SplitSeq(value, ",") {
			if acceptableDeflateOffer(offer) {
				return true
			}
		}
	}
	return false
}

// acceptableDeflateOffer judges one extension offer: "permessage-deflate" followed by
// parameters separated by semicolons.
func acceptableDeflateOffer(offer string) bool {
	name, parameters, _ := strings.Cut(offer, ";")
	if !strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
		return false
	}
	if !strings.Contains(offer, ";") {
		return true
	}
	seen := map[string]bool{}
	for parameter := range strings.SplitSeq(parameters, ";") {
		key, value, hasValue := strings.Cut(parameter, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if seen[key] {
			return false
		}
		seen[key] = true
		value = unquote(strings.TrimSpace(value))
		switch key {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasValue {
				return false
			}
		case "server_max_window_bits":
			if !hasValue || !validWindowBits(value) || value != "15" {
				return false
			}
		case "client_max_window_bits":
			if hasValue && !validWindowBits(value) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validWindowBits reports whether value is a window size parameter's value: a
// decimal 8 to 15 without leading zeros (§7.1.2).
func validWindowBits(value string) bool {
	switch len(value) {
	case 1:
		return value[0] >= '8' && value[0] <= '9'
	case 2:
		return value[0] == '1' && value[1] >= '0' && value[1] <= '5'
	}
	return false
}

// unquote removes the double quotes of a quoted-string value (RFC 6455 §9.1 allows
// `client_max_window_bits="10"`); window sizes never contain escapes.
func unquote(value string) string {
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		return value[1 : len(value)-1]
	}
	return value
}
