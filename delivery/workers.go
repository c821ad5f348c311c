package delivery

import (
	"hash/maphash"
	"sync"
)

// historyWorkers run the history store's calls that make a network round trip (a
// cluster's Redis store) off the client handler goroutines, which the event loop's
// small pool runs and which must never wait for the network. A fixed number of
// goroutines each take jobs from a bounded queue of their own; a job goes to the
// worker its key hashes to, so jobs of one key run in submission order: a
// channel's publications are keyed by the channel, joins by their connection. A full queue refuses the job at once:
// the caller degrades (see submit's callers) rather than wait.
type historyWorkers struct {
	seed   maphash.Seed
	queues []chan func()
	stop   chan struct{}
	group  sync.WaitGroup
}

// newHistoryWorkers starts count workers, each with a queue of capacity jobs.
func newHistoryWorkers(count, capacity int) *historyWorkers {
	w := &historyWorkers{seed: maphash.MakeSeed(), queues: make([]chan func(), count), stop: make(chan struct{})}
	for index := range w.queues {
		queue := make(chan func(), capacity)
		w.queues[index] = queue
		w.group.Go(func() { w.run(queue) })
	}
	return w
}

// run is one worker: it runs its queue's jobs until close.
func (w *historyWorkers) run(queue chan func()) {
	for {
		select {
		case <-w.stop:
			return
		case job := <-queue:
			job()
		}
	}
}

// submit queues job on key's worker and reports whether it fit. It never
// blocks. Jobs still queued when the workers close are dropped.
func (w *historyWorkers) submit(key string, job func()) bool {
	select {
	case w.queues[maphash.String(w.seed, key)%uint64(len(w.queues))] <- job:
		return true
	default:
		return false
	}
}

// close stops the workers once their current jobs return, and waits for them.
func (w *historyWorkers) close() {
	close(w.stop)
	w.group.Wait()
}
