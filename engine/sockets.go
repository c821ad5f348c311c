package engine

// OpenSockets returns the number of sockets the engine holds: WebSocket
// connections, keep-alive HTTP connections, sockets that have not completed their
// first request and those lingering after a refused request (see lingerTimeout).
// It is 0 before Start; O(1) and safe for concurrent use.
func (s *Server) OpenSockets() int {
	if !s.running.Load() {
		return 0
	}
	return s.engine.Online()
}
