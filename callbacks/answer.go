package callbacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Answer is a backend's parsed answer to a call: exactly one of Result, Error and
// Disconnect is set.
type Answer struct {
	// Result is the raw JSON of "result" (never the text null): the call succeeded.
	Result json.RawMessage
	// Error is the backend's refusal: {"error":{"code":"...","message":"..."}}.
	Error *AnswerError
	// Disconnect asks for the connection to be closed with a code in 4000-4999:
	// {"disconnect":{"code":4xxx,"reason":"..."}}.
	Disconnect *Disconnect
}

// AnswerError is the backend's {"error":{...}}: a non-empty string code and a
// human-readable message.
type AnswerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Disconnect is the backend's {"disconnect":{...}}: a WebSocket close code in the
// application range 4000-4999 and a reason text of at most MaxReasonSize bytes.
type Disconnect struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// MaxReasonSize is the longest Disconnect.Reason, in bytes: what a close frame
// carries (RFC 6455: 125 bytes of payload less the 2-byte code).
const MaxReasonSize = 123

// ErrMalformedAnswer is wrapped by the error of an answer that is not exactly one
// of the three shapes (see ParseAnswer).
var ErrMalformedAnswer = errors.New("malformed answer")

// ParseAnswer parses body, a backend's answer: a JSON object with exactly one of
// "result" (any JSON value but null), "error" (an object with a non-empty string
// "code" and a string "message") or "disconnect" (an object with an integer
// "code" in 4000-4999 and a string "reason" of at most MaxReasonSize bytes). Other
// keys are ignored. Anything else is an error wrapping ErrMalformedAnswer. Result
// is a copy: body may be reused.
func ParseAnswer(body []byte) (Answer, error) {
	var raw struct {
		Result     json.RawMessage `json:"result"`
		Error      json.RawMessage `json:"error"`
		Disconnect json.RawMessage `json:"disconnect"`
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Answer{}, fmt.Errorf("%w: not a JSON object", ErrMalformedAnswer)
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return Answer{}, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	present := 0
	for _, field := range [...]json.RawMessage{raw.Result, raw.Error, raw.Disconnect} {
		if field != nil && string(field) != "null" {
			present++
		}
	}
	if present != 1 {
		return Answer{}, fmt.Errorf(`%w: want exactly one of "result", "error" and "disconnect", got %d`, ErrMalformedAnswer, present)
	}
	switch {
	case raw.Result != nil && string(raw.Result) != "null":
		return Answer{Result: bytes.Clone(raw.Result)}, nil
	case raw.Error != nil && string(raw.Error) != "null":
		var refusal AnswerError
		if err := strictObject(raw.Error, &refusal); err != nil || refusal.Code == "" {
			return Answer{}, fmt.Errorf(`%w: "error" must be {"code":"<non-empty string>","message":"..."}`, ErrMalformedAnswer)
		}
		return Answer{Error: &refusal}, nil
	default:
		var disconnect Disconnect
		if err := strictObject(raw.Disconnect, &disconnect); err != nil || disconnect.Code < 4000 || disconnect.Code > 4999 ||
			len(disconnect.Reason) > MaxReasonSize {
			return Answer{}, fmt.Errorf(`%w: "disconnect" must be {"code":<4000-4999>,"reason":"<at most %d bytes>"}`,
				ErrMalformedAnswer, MaxReasonSize)
		}
		return Answer{Disconnect: &disconnect}, nil
	}
}

// strictObject decodes raw, which must be a JSON object, into target.
func strictObject(raw json.RawMessage, target any) error {
	if raw[0] != '{' {
		return errors.New("not an object")
	}
	return json.Unmarshal(raw, target)
}
