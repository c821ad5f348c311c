// Package httpjson writes the JSON answers of wsgate's HTTP endpoints, so that the
// API and the dashboard answer in one manner.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// encodingFailed is the body sent in place of one json.Marshal refuses.
const encodingFailed = `{"error":"internal","message":"response could not be encoded"}`

// Write answers status with body encoded as JSON and a closing newline, with the
// Content-Type application/json. A body that cannot be encoded is answered 500 with
// an "internal" error body instead, so that a client never reads half a document.
// Headers the caller set before are kept. It is safe for concurrent use on
// different writers, as http.ResponseWriter is.
func Write(writer http.ResponseWriter, status int, body any) {
	payload, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		payload = []byte(encodingFailed)
	}
	writer.Header().Set("Content-Type", "application/json")
	writer.WriteHeader(status)
	_, _ = writer.Write(append(payload, '\n'))
}
