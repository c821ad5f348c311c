package callbacks

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// outcome is what a completion received.
type outcome struct {
	answer Answer
	err    error
}

// newClient returns a Client for config, closed when the test ends.
func newClient(t *testing.T, config Config) *Client {
	t.Helper()
	client, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

// newEndpoint returns the endpoint of kind on client for server.
func newEndpoint(t *testing.T, client *Client, kind string, server *httptest.Server) *Endpoint {
	t.Helper()
	endpoint, err := client.Endpoint(kind, server.URL)
	if err != nil {
		t.Fatal(err)
	}
	return endpoint
}

// callAndWait makes one call through Go and returns what its completion received.
func callAndWait(t *testing.T, endpoint *Endpoint, body string) outcome {
	t.Helper()
	results := make(chan outcome, 1)
	if err := endpoint.Go([]byte(body), func(answer Answer, err error) { results <- outcome{answer, err} }); err != nil {
		return outcome{err: err}
	}
	select {
	case result := <-results:
		return result
	case <-time.After(10 * time.Second):
		t.Fatal("the completion never ran")
		return outcome{}
	}
}

// blockingServer answers nothing until the test ends; its handler counts arrivals.
func blockingServer(t *testing.T, arrived *atomic.Int64) *httptest.Server {
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-request.Context().Done():
		}
	}))
	t.Cleanup(server.Close)
	t.Cleanup(func() { close(release) })
	return server
}

func TestGoPostsASignedAuthenticatedBodyAndParsesTheAnswer(t *testing.T) {
	secret := []byte("a secret shared with the backend")
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		body, _ := io.ReadAll(request.Body)
		switch {
		case request.Header.Get(SignatureHeader) != Sign(secret, body):
			http.Error(writer, "bad signature", http.StatusUnauthorized)
		case request.Header.Get("Authorization") != "Bearer key-1":
			http.Error(writer, "bad key", http.StatusUnauthorized)
		case request.Header.Get(KindHeader) != "rpc" || request.Header.Get("Content-Type") != "application/json":
			http.Error(writer, "bad headers", http.StatusBadRequest)
		default:
			_, _ = writer.Write([]byte(`{"result":{"echo":` + string(body) + `}}`))
		}
	}))
	defer server.Close()
	client := newClient(t, Config{Secret: secret, BearerKey: "key-1"})
	endpoint := newEndpoint(t, client, "rpc", server)
	result := callAndWait(t, endpoint, `{"n":1}`)
	if result.err != nil || string(result.answer.Result) != `{"echo":{"n":1}}` {
		t.Fatalf("answer %s, error %v", result.answer.Result, result.err)
	}
	// The signature covers the body: the backend refuses another secret's.
	other := newClient(t, Config{Secret: []byte("another secret"), BearerKey: "key-1"})
	result = callAndWait(t, newEndpoint(t, other, "rpc", server), `{"n":1}`)
	var callError *CallError
	if !errors.As(result.err, &callError) || callError.Failure != FailureStatus || callError.Status != 401 || IsUnavailable(result.err) {
		t.Fatalf("a wrong signature gave %v; want a status failure 401 that is not unavailability", result.err)
	}
}

// TestSignMatchesAKnownVector pins the signature to HMAC-SHA256 (RFC 4231, test
// case 2), so that backends in any language can check it.
func TestSignMatchesAKnownVector(t *testing.T) {
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestAMalformedOrOversizedAnswerFailsThatCallOnly(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		body, _ := io.ReadAll(request.Body)
		switch string(body) {
		case "malformed":
			_, _ = writer.Write([]byte(`{"result":1,"error":{"code":"x"}}`))
		case "long":
			_, _ = writer.Write([]byte(`{"result":"` + strings.Repeat("x", 200) + `"}`))
		default:
			_, _ = writer.Write([]byte(`{"result":true}`))
		}
	}))
	defer server.Close()
	client := newClient(t, Config{MaxAnswerSize: 100, BreakerThreshold: 100})
	endpoint := newEndpoint(t, client, "rpc", server)
	for _, body := range []string{"malformed", "long"} {
		result := callAndWait(t, endpoint, body)
		var callError *CallError
		if !errors.As(result.err, &callError) || callError.Failure != FailureMalformed || !errors.Is(result.err, ErrMalformedAnswer) {
			t.Errorf("%s answer gave %v; want a malformed answer", body, result.err)
		}
		if result := callAndWait(t, endpoint, "fine"); result.err != nil || string(result.answer.Result) != "true" {
			t.Errorf("the call after a %s answer: %s, %v", body, result.answer.Result, result.err)
		}
	}
	if err := endpoint.Go(make([]byte, DefaultMaxRequestSize+1), func(Answer, error) { t.Error("an oversized request ran") }); !errors.Is(err, ErrRequestTooLarge) {
		t.Errorf("an oversized request: %v", err)
	}
}

func TestASlowBackendTimesOutAtTheConfiguredTimeout(t *testing.T) {
	var arrived atomic.Int64
	server := blockingServer(t, &arrived)
	client := newClient(t, Config{Timeout: 50 * time.Millisecond})
	started := time.Now()
	result := callAndWait(t, newEndpoint(t, client, "rpc", server), `{}`)
	var callError *CallError
	if !errors.As(result.err, &callError) || callError.Failure != FailureTimeout || !IsUnavailable(result.err) {
		t.Fatalf("a slow backend gave %v; want a timeout", result.err)
	}
	if elapsed := time.Since(started); elapsed < 50*time.Millisecond {
		t.Errorf("the call failed after %v, before its timeout", elapsed)
	}
}

func TestAFullQueueFailsFastAndCloseFailsWhatWaits(t *testing.T) {
	var arrived atomic.Int64
	server := blockingServer(t, &arrived)
	client, err := New(Config{Workers: 1, QueueSize: 2, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := newEndpoint(t, client, "rpc", server)
	results := make(chan error, 3)
	done := func(_ Answer, err error) { results <- err }
	if err := endpoint.Go([]byte(`1`), done); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 5*time.Second, "the first call to reach the backend", func() bool { return arrived.Load() == 1 })
	for range 2 {
		if err := endpoint.Go([]byte(`2`), done); err != nil {
			t.Fatalf("a call that fits in the queue: %v", err)
		}
	}
	started := time.Now()
	if err := endpoint.Go([]byte(`3`), done); !errors.Is(err, ErrQueueFull) || !IsUnavailable(err) {
		t.Fatalf("a call past the queue: %v, want ErrQueueFull", err)
	}
	if elapsed := time.Since(started); elapsed > time.Second {
		t.Errorf("Go took %v with a full queue; it must not wait", elapsed)
	}
	client.Close()
	for range 3 {
		if err := <-results; !errors.Is(err, ErrClosed) {
			t.Errorf("a call queued or in flight at Close got %v, want ErrClosed", err)
		}
	}
	if err := endpoint.Go([]byte(`4`), done); !errors.Is(err, ErrClosed) {
		t.Errorf("Go after Close: %v", err)
	}
}

func TestABackendDownOpensTheBreakerWhichClosesWhenItIsBack(t *testing.T) {
	var healthy atomic.Bool
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		requests.Add(1)
		if !healthy.Load() {
			http.Error(writer, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = writer.Write([]byte(`{"result":"up"}`))
	}))
	defer server.Close()
	client := newClient(t, Config{BreakerThreshold: 3, BreakerCooldown: 100 * time.Millisecond})
	endpoint := newEndpoint(t, client, "rpc", server)
	for range 3 {
		if result := callAndWait(t, endpoint, `{}`); !IsUnavailable(result.err) {
			t.Fatalf("a 503 gave %v; want unavailability", result.err)
		}
	}
	if endpoint.Breaker() != BreakerOpen {
		t.Fatalf("after 3 failures the breaker is %v", endpoint.Breaker())
	}
	before := requests.Load()
	if err := endpoint.Go([]byte(`{}`), func(Answer, error) { t.Error("a call ran through an open breaker") }); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("with the breaker open: %v", err)
	}
	if requests.Load() != before {
		t.Error("an open breaker let a request reach the backend")
	}
	healthy.Store(true)
	testsupport.WaitFor(t, 5*time.Second, "a probe to close the breaker", func() bool {
		result := callAndWait(t, endpoint, `{}`)
		return result.err == nil && string(result.answer.Result) == `"up"`
	})
	if endpoint.Breaker() != BreakerClosed {
		t.Errorf("after a successful probe the breaker is %v", endpoint.Breaker())
	}
	var exposition strings.Builder
	client.Metrics().WritePrometheus(&exposition)
	for _, line := range []string{`wsgate_callback_errors_total{kind="rpc",error="status"} 3`,
		`wsgate_callback_errors_total{kind="rpc",error="circuit_open"} `, `wsgate_callback_breaker_open{kind="rpc"} 0`,
		`wsgate_callback_duration_seconds_bucket{kind="rpc",le="0.001"} `} {
		if !strings.Contains(exposition.String(), line) {
			t.Errorf("metrics lack %q:\n%s", line, exposition.String())
		}
	}
}

func TestEndpointRefusesABadURLAndAKindTwice(t *testing.T) {
	client := newClient(t, Config{})
	for _, address := range []string{"", "ftp://host/x", "localhost:8000/x", "http://"} {
		if _, err := client.Endpoint("rpc", address); err == nil {
			t.Errorf("Endpoint accepted %q", address)
		}
	}
	if _, err := client.Endpoint("rpc", "http://127.0.0.1:1/rpc"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Endpoint("rpc", "http://127.0.0.1:1/rpc"); err == nil {
		t.Error("the same kind was created twice")
	}
	if _, err := New(Config{Workers: -1}); err == nil {
		t.Error("New accepted negative workers")
	}
}

func TestABackendAnswering4xxKeepsTheBreakerClosed(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		http.Error(writer, "no such method", http.StatusNotFound)
	}))
	defer server.Close()
	client := newClient(t, Config{BreakerThreshold: 3})
	endpoint := newEndpoint(t, client, "rpc", server)
	for range 6 {
		result := callAndWait(t, endpoint, `{}`)
		var callError *CallError
		if !errors.As(result.err, &callError) || callError.Status != http.StatusNotFound || IsUnavailable(result.err) {
			t.Fatalf("a 404 gave %v; want a status error that is not unavailability", result.err)
		}
	}
	if endpoint.Breaker() != BreakerClosed {
		t.Fatalf("after 6 answers of 404 the breaker is %v; want closed", endpoint.Breaker())
	}
}
