// Package protocol is wsgate's wire format on /api/v1/ws, as docs/protocol.md
// describes it: the WebSocket frames the server writes (frame.go) and their
// permessage-deflate form (deflate.go), the JSON messages clients send (client.go:
// every message type and Decode) and the server answers with (server.go; channels.go
// for channel answers and publications, rpc.go for rpc answers, presence.go for
// presence answers and join/leave events), the error codes (errors.go, rpc.go; the
// codes of refused channel operations are package channels'), and the close codes
// with the reconnect policy each asks of a client (closecodes.go, published as
// closecodes.json for the clients' tests).
//
// Of wsgate's packages it imports only history (a publication's Position) and
// presence (a presence Page), two leaves that import nothing of wsgate's, so the
// server's packages and the Go client share it. Everything here is a pure function
// or an immutable table, safe for concurrent use. Encoded frames are meant to be
// shared: a broadcast encodes its frame once and writes the same bytes to every
// connection, so callers must not modify a frame after it was built.
package protocol
