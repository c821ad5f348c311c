// Package protocol is wsgate's wire format on /api/v1/ws, as docs/protocol.md
// describes it: the WebSocket frames the server writes (frame.go), the JSON messages
// clients send (client.go) and the server answers with (server.go), the error codes
// (errors.go), and the close codes with the reconnect policy each asks of a client
// (closecodes.go, published as closecodes.json for the clients' tests).
//
// It imports nothing of wsgate's, so the server's packages and the Go client share
// it. Everything here is a pure function or an immutable table, safe for concurrent
// use. Encoded frames are meant to be shared: a broadcast encodes its frame once and
// writes the same bytes to every connection, so callers must not modify a frame
// after it was built.
package protocol
