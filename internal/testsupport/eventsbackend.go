package testsupport

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// EventsBackend is a real HTTP server standing for the backend that takes a node's
// event batches ({"events":[...]}): it keeps every event it took, in order and
// counting repeats, and answers 500 to its first requests while failures last. It is
// safe for concurrent use.
type EventsBackend struct {
	// Server is the backend; it is closed when the test ends.
	Server *httptest.Server
	// Requests counts the requests accept let through, failed ones included.
	Requests atomic.Int64

	accept   func(request *http.Request, body []byte) bool
	failures atomic.Int64
	mutex    sync.Mutex
	events   []map[string]any
}

// StartEventsBackend starts an EventsBackend whose first failures requests are
// answered 500. accept, when not nil, sees each request first: one it returns false
// for (a bad signature, say) is answered 401 and not counted.
func StartEventsBackend(t testing.TB, failures int64, accept func(request *http.Request, body []byte) bool) *EventsBackend {
	backend := &EventsBackend{accept: accept}
	backend.failures.Store(failures)
	backend.Server = httptest.NewServer(http.HandlerFunc(backend.serve))
	t.Cleanup(backend.Server.Close)
	return backend
}

func (b *EventsBackend) serve(writer http.ResponseWriter, request *http.Request) {
	body, err := io.ReadAll(request.Body)
	if err != nil {
		http.Error(writer, err.Error(), http.StatusBadRequest)
		return
	}
	if b.accept != nil && !b.accept(request, body) {
		http.Error(writer, "refused", http.StatusUnauthorized)
		return
	}
	b.Requests.Add(1)
	if b.failures.Add(-1) >= 0 {
		http.Error(writer, "not now", http.StatusInternalServerError)
		return
	}
	var batch struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		http.Error(writer, err.Error(), http.StatusBadRequest)
		return
	}
	b.mutex.Lock()
	b.events = append(b.events, batch.Events...)
	b.mutex.Unlock()
	_, _ = writer.Write([]byte(`{}`))
}

// Events returns a copy of the events taken so far, in the order they arrived.
func (b *EventsBackend) Events() []map[string]any {
	b.mutex.Lock()
	defer b.mutex.Unlock()
	return slices.Clone(b.events)
}
