//go:build !race

package engine

// publishToPollers and observeHandoffs order nbio's accept-to-poller handoff for the
// race detector; see race.go. Without -race they do nothing.
func publishToPollers() {}

func (s *Server) observeHandoffs() {}
