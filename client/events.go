package client

import (
	"encoding/json"
	"fmt"
)

// Message is one server message other than ping and welcome. It is a value; its
// Data is not reused by the Client.
type Message struct {
	// Type is the message's "type" field, e.g. "message", "broadcast" or "error".
	Type string
	// Data is the whole JSON object as the server sent it.
	Data json.RawMessage
}

// Decode unmarshals the whole message into target.
func (m Message) Decode(target any) error { return json.Unmarshal(m.Data, target) }

// Welcome is the server's answer to the hello a Client sends on every open.
type Welcome struct {
	// ConnectionID is the server's id of this connection.
	ConnectionID string `json:"connection_id"`
	// UserID is the user the server identified, or "" for an anonymous connection.
	UserID string `json:"user_id"`
	// PingIntervalMS is the server's heartbeat interval in milliseconds; 0 when off.
	PingIntervalMS int64 `json:"ping_interval_ms"`
	// PingTimeoutMS is the server's heartbeat timeout in milliseconds.
	PingTimeoutMS int64 `json:"ping_timeout_ms"`
}

// CloseEvent describes how a connection or connection attempt ended.
type CloseEvent struct {
	// Code is the close code: the server's, 1006 when there was no close frame (also
	// for failed dials), or 4000 when this client found the server silent.
	Code int
	// Reason is the close frame's reason, or a description of the failure.
	Reason string
	// Err is the transport error behind a 1006 or 4000, nil otherwise.
	Err error
	// WillReconnect says whether the Client will try again.
	WillReconnect bool
}

// CloseError is returned by Run when the server ended the connection with a terminal
// close code (1000 or 4400-4499).
type CloseError struct {
	// Code is the close code.
	Code int
	// Reason is the close frame's reason.
	Reason string
}

// Error describes the close, e.g. "client: closed by server with 4401 (unauthorized)".
func (e *CloseError) Error() string {
	return fmt.Sprintf("client: closed by server with %d (%s)", e.Code, e.Reason)
}

// State is where a Client is in its life. Read it with Client.State.
type State int32

// The states of a Client.
const (
	// StateClosed: Run has not started, or has returned.
	StateClosed State = iota
	// StateConnecting: a connection attempt (token, dial, upgrade) is in progress.
	StateConnecting
	// StateOpen: a connection is open.
	StateOpen
	// StateReconnecting: waiting out the delay before the next attempt.
	StateReconnecting
)

// String returns "closed", "connecting", "open" or "reconnecting".
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	default:
		return "closed"
	}
}
