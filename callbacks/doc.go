// Package callbacks calls the application's backend over HTTP: the asynchronous
// calls of the connection lifecycle (the connect callback, RPC, the subscribe
// and publish checks) and the batched connection events.
// It knows nothing of sessions or of the wire protocol: callers hand it JSON bodies
// and get parsed answers back.
//
// # Files
//
//   - config.go: Config and its documented defaults.
//   - client.go: Client, the bounded queue and pool of workers shared by every
//     kind of call, and the HTTP/1.1 keep-alive connection pool to the backend.
//   - endpoint.go: Endpoint, one callback kind at one URL: Go (asynchronous
//     call), Post (synchronous, for the events poster), the signature.
//   - answer.go: Answer, the parsed {"result"} / {"error"} / {"disconnect"} shape.
//   - breaker.go: the circuit breaker of one Endpoint.
//   - metrics.go: calls, errors by kind and the latency histogram per Endpoint.
//   - events.go: Events, the batching, retrying poster of connection events.
//
// # Goroutines and blocking
//
// Nothing here blocks its caller on the network. Endpoint.Go puts a call on the
// Client's queue (a buffered channel of Config.QueueSize calls) without waiting:
// when the queue is full, or the endpoint's breaker is open, it returns an error at
// once (ErrQueueFull, ErrCircuitOpen) and the call never runs. Config.Workers
// goroutines, started by New and stopped by Close, take calls off the queue, make
// the HTTP request (bounded by Config.Timeout) and run the call's completion
// function on the same worker, so a completion must be short and must not block (a
// Session.Send, a counter); a slow completion delays the calls behind it, never the
// caller of Go. No goroutine is started per call.
//
// Events (events.go) has one goroutine of its own that gathers events into batches
// and posts them one at a time with Endpoint.Post, retrying with backoff; Add only
// appends to a bounded buffer under a short mutex hold.
//
// Every exported method is safe for concurrent use.
//
// # Authentication of requests
//
// With Config.Secret every request carries X-Wsgate-Signature: sha256=<hex of
// HMAC-SHA256(secret, body)>, so the backend can check that the body came from
// wsgate and was not changed; with Config.BearerKey it carries Authorization:
// Bearer <key>. Both may be set. X-Wsgate-Kind names the callback kind.
package callbacks
