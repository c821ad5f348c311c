//go:build race

package engine

import (
	"sync"

	"github.com/lesismal/nbio"
)

// nbio hands an accepted socket from its accept goroutine to a poller goroutine
// through epoll, which the race detector cannot see, so it reports nbio's own field
// writes (the connection struct, its address) as racing with the poller's reads.
// In race builds only, the accept side releases a mutex after nbio initialised the
// socket (in the open callback) and every poller read acquires it first, which is
// the ordering epoll already guarantees. Normal builds compile none of this.
var pollerHandoff sync.Mutex

func publishToPollers() {
	pollerHandoff.Lock()
	//lint:ignore SA2001 the empty critical section is the point: it orders the handoff
	pollerHandoff.Unlock()
}

func observeHandoffs(engine *nbio.Engine) {
	engine.OnReadBufferAlloc(func(conn *nbio.Conn) *[]byte {
		publishToPollers()
		return engine.PollerBufferPtr(conn)
	})
}
