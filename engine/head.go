package engine

import (
	"cmp"
	"net/http"
	"strconv"
)

// nbhttp answers HEAD as it answers GET, body included, and a keep-alive client,
// which reads no body after a HEAD, takes those bytes for the start of its next
// answer. headWriter gives a HEAD the answer GET would get without its body: it
// counts the handler's body bytes and drops them, keeps the status until the handler
// returns, then has nbhttp send the headers alone, with the Content-Length the GET
// would have had (unless the handler set its own or its status has no body).
type headWriter struct {
	http.ResponseWriter
	status int
	length int
}

// WriteHeader keeps the first status, as net/http does.
func (w *headWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write counts data and drops it.
func (w *headWriter) Write(data []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.length += len(data)
	return len(data), nil
}

// Flush does nothing: nothing is sent before the handler returns.
func (w *headWriter) Flush() {}

// finish sends the headers, once the handler has returned.
func (w *headWriter) finish() {
	status := cmp.Or(w.status, http.StatusOK)
	header := w.ResponseWriter.Header()
	bodiless := status < 200 || status == http.StatusNoContent || status == http.StatusNotModified
	if !bodiless && header.Get("Content-Length") == "" && header.Get("Transfer-Encoding") == "" {
		header.Set("Content-Length", strconv.Itoa(w.length))
	}
	w.ResponseWriter.WriteHeader(status)
}
