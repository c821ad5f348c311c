package httpjson

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteEncodesTheBodyWithAStatusAndAContentType(t *testing.T) {
	recorder := httptest.NewRecorder()
	recorder.Header().Set("Cache-Control", "no-store")
	Write(recorder, http.StatusCreated, map[string]int{"count": 2})
	if recorder.Code != http.StatusCreated || recorder.Body.String() != "{\"count\":2}\n" {
		t.Fatalf("answer %d %q, want 201 {\"count\":2}", recorder.Code, recorder.Body.String())
	}
	if got := recorder.Header().Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", got)
	}
	if got := recorder.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q, the caller's header was lost", got)
	}
}

func TestWriteAnswersInternalForABodyThatCannotBeEncoded(t *testing.T) {
	recorder := httptest.NewRecorder()
	Write(recorder, http.StatusOK, map[string]any{"channel": make(chan int)})
	if recorder.Code != http.StatusInternalServerError || recorder.Body.String() != encodingFailed+"\n" {
		t.Fatalf("answer %d %q, want 500 %s", recorder.Code, recorder.Body.String(), encodingFailed)
	}
}
