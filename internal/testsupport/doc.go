// Package testsupport holds what the tests of several packages share: polling for a
// condition with a deadline instead of sleeping (WaitFor, Eventually), the in-memory
// session.Conn for hubs without sockets (Conn), the WebSocket endpoint's URL, a
// buffer a logger may write to from many goroutines (SyncBuffer), and a backend that
// takes event batches (EventsBackend).
//
// It imports nothing of wsgate, so that session's own tests can use it; starting a
// whole node (which imports session through gateway) lives in the testnode
// subpackage for the same reason.
package testsupport
