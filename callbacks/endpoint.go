package callbacks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The request headers wsgate sets on every call.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body with
	// Config.Secret, when a secret is set.
	SignatureHeader = "X-Wsgate-Signature"
	// KindHeader names the callback kind ("rpc", "events", ...).
	KindHeader = "X-Wsgate-Kind"
)

// Endpoint is one kind of callback at one URL, with its own circuit breaker and
// metrics, sharing its Client's workers and connections. Safe for concurrent use.
type Endpoint struct {
	client  *Client
	kind    string
	url     string
	breaker breaker
	metrics *endpointMetrics
}

// Kind returns the endpoint's callback kind.
func (e *Endpoint) Kind() string { return e.kind }

// URL returns the address calls are posted to.
func (e *Endpoint) URL() string { return e.url }

// Breaker returns the state of the endpoint's circuit breaker.
func (e *Endpoint) Breaker() BreakerState { return e.breaker.current() }

// Go posts body (a JSON document the endpoint expects; kept, not copied, until
// the call ends, so the caller must not modify it) to the endpoint asynchronously
// and returns at once. Either it returns an error and done is never called
// (ErrRequestTooLarge, ErrCircuitOpen while the breaker is open, ErrQueueFull when
// Config.QueueSize calls are waiting, ErrClosed), or it returns nil and done is
// called exactly once, on a worker goroutine, with the parsed answer or the call's
// error (a *CallError, or ErrClosed). done must return quickly and never block: the
// worker runs the next call only after it.
func (e *Endpoint) Go(body []byte, done func(Answer, error)) error {
	if len(body) > e.client.config.MaxRequestSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrRequestTooLarge, len(body), e.client.config.MaxRequestSize)
	}
	if !e.breaker.allow(time.Now()) {
		e.metrics.errors[FailureCircuitOpen].Inc()
		return ErrCircuitOpen
	}
	if err := e.client.enqueue(call{endpoint: e, body: body, done: done}); err != nil {
		e.breaker.abandon()
		if errors.Is(err, ErrQueueFull) {
			e.metrics.errors[FailureQueueFull].Inc()
		}
		return err
	}
	return nil
}

// run makes the call of Go on a worker and records its outcome in the breaker.
func (e *Endpoint) run(body []byte) (Answer, error) {
	answerBody, err := e.post(e.client.base, body)
	var answer Answer
	if err == nil {
		answer, err = ParseAnswer(answerBody)
		if err != nil {
			e.metrics.errors[FailureMalformed].Inc()
			err = &CallError{Kind: e.kind, Failure: FailureMalformed, Err: err}
		}
	}
	// The breaker guards against a backend that is absent (down, slow, 5xx), not
	// one that answered: a 4xx or a malformed answer to one call says nothing of
	// the next, and opening on it would fail every connection for one bad method.
	e.breaker.record(!IsUnavailable(err), time.Now())
	return answer, err
}

// Post posts body to the endpoint on the calling goroutine and waits for the
// answer, within Config.Timeout and ctx; any 2xx status is success and the answer
// body is read (at most Config.MaxAnswerSize bytes) but not parsed. It bypasses
// the queue, the workers and the breaker: it is meant for a caller with its own
// goroutine and retry policy (Events). Its calls count in the endpoint's metrics.
func (e *Endpoint) Post(ctx context.Context, body []byte) error {
	if len(body) > e.client.config.MaxRequestSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrRequestTooLarge, len(body), e.client.config.MaxRequestSize)
	}
	_, err := e.post(ctx, body)
	return err
}

// post makes one HTTP request and returns the answer body of a 2xx answer, or a
// *CallError; it counts the call, its latency and its failure.
func (e *Endpoint) post(ctx context.Context, body []byte) ([]byte, error) {
	started := time.Now()
	answer, failure, status, err := e.exchange(ctx, body)
	e.metrics.calls.Inc()
	e.metrics.duration.Update(time.Since(started).Seconds())
	if err != nil {
		e.metrics.errors[failure].Inc()
		return nil, &CallError{Kind: e.kind, Failure: failure, Status: status, Err: err}
	}
	return answer, nil
}

// exchange sends the request and reads the answer, naming the failure kind of an
// error.
func (e *Endpoint) exchange(ctx context.Context, body []byte) (answer []byte, failure string, status int, err error) {
	config := e.client.config
	ctx, cancel := context.WithTimeout(ctx, config.Timeout)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, FailureTransport, 0, err
	}
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set(KindHeader, e.kind)
	if len(config.Secret) > 0 {
		request.Header.Set(SignatureHeader, Sign(config.Secret, body))
	}
	if config.BearerKey != "" {
		request.Header.Set("Authorization", "Bearer "+config.BearerKey)
	}
	response, err := e.client.http.Do(request)
	if err != nil {
		return nil, classify(ctx), 0, err
	}
	defer response.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(response.Body, int64(config.MaxAnswerSize)+1))
	switch {
	case err != nil:
		return nil, classify(ctx), response.StatusCode, err
	case response.StatusCode < 200 || response.StatusCode > 299:
		return nil, FailureStatus, response.StatusCode, fmt.Errorf("backend answered %d", response.StatusCode)
	case len(answer) > config.MaxAnswerSize:
		return nil, FailureMalformed, response.StatusCode, fmt.Errorf("%w: answer longer than %d bytes", ErrMalformedAnswer,
			config.MaxAnswerSize)
	}
	return answer, "", response.StatusCode, nil
}

// classify names the failure of a request that ended with an error: a timeout
// when its deadline passed, a transport failure otherwise.
func classify(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return FailureTimeout
	}
	return FailureTransport
}

// Sign returns the value of SignatureHeader for body: "sha256=" and the lowercase
// hex HMAC-SHA256 of body with secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// breakerChanged logs a transition of the breaker and keeps its gauge.
func (e *Endpoint) breakerChanged(from, to BreakerState) {
	e.metrics.open.Store(to != BreakerClosed)
	if to == BreakerClosed {
		e.client.config.Logger.Info("callback circuit breaker closed", "kind", e.kind, "from", from.String())
		return
	}
	e.client.config.Logger.Warn("callback circuit breaker "+to.String(), "kind", e.kind, "from", from.String())
}
