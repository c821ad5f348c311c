package engine

import (
	"bytes"
	"io"
	"net/http"
)

// answerRecorder is the http.ResponseWriter of an answer the engine writes itself
// (a refused request): it keeps the status, headers and body, which recordAnswer
// then writes out as one HTTP/1.1 response.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *answerRecorder) Header() http.Header { return r.header }

func (r *answerRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *answerRecorder) Write(data []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(data)
}

// recordAnswer runs handler for request and returns its answer as the bytes of an
// HTTP/1.1 response with "Connection: close" and a Content-Length.
func recordAnswer(handler http.Handler, request *http.Request) []byte {
	recorder := &answerRecorder{header: http.Header{}}
	handler.ServeHTTP(recorder, request)
	recorder.WriteHeader(http.StatusOK)
	response := http.Response{StatusCode: recorder.status, ProtoMajor: 1, ProtoMinor: 1, Header: recorder.header,
		Body: io.NopCloser(&recorder.body), ContentLength: int64(recorder.body.Len()), Close: true}
	var encoded bytes.Buffer
	_ = response.Write(&encoded)
	return encoded.Bytes()
}
