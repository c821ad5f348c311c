package client

import (
	"sync"
	"sync/atomic"
)

// The states of an outgoing message.
const (
	outgoingQueued int32 = iota
	outgoingWriting
	outgoingWithdrawn
)

// outgoing is one encoded message waiting to be written. Its state moves from queued
// to writing when the writer takes it (and back when the write fails), or from queued
// to withdrawn when its sender gives up; whichever comes first wins, so a withdrawn
// message is never written.
type outgoing struct {
	data []byte
	// written, when not nil, is closed once the message has been written.
	written chan struct{}
	state   atomic.Int32
}

// claim moves a queued message to writing; false when it was withdrawn.
func (o *outgoing) claim() bool { return o.state.CompareAndSwap(outgoingQueued, outgoingWriting) }

// withdraw moves a queued message to withdrawn; false when the writer has it already.
func (o *outgoing) withdraw() bool { return o.state.CompareAndSwap(outgoingQueued, outgoingWithdrawn) }

// queue is the bounded FIFO of messages waiting to be written. Its methods are safe
// for concurrent use.
type queue struct {
	mutex sync.Mutex
	items []*outgoing
	limit int
	// ready holds a token while items may be waiting, to wake the writer.
	ready chan struct{}
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, ready: make(chan struct{}, 1)}
}

// push appends item; it reports false when the queue is full.
func (q *queue) push(item *outgoing) bool {
	q.mutex.Lock()
	if len(q.items) >= q.limit {
		q.mutex.Unlock()
		return false
	}
	q.items = append(q.items, item)
	q.mutex.Unlock()
	q.signal()
	return true
}

// pushFront puts back an item that pop returned but that could not be written, so it
// goes out first on the next connection.
func (q *queue) pushFront(item *outgoing) {
	item.state.Store(outgoingQueued)
	q.mutex.Lock()
	q.items = append([]*outgoing{item}, q.items...)
	q.mutex.Unlock()
	q.signal()
}

// pop removes and returns the oldest item.
func (q *queue) pop() (*outgoing, bool) {
	q.mutex.Lock()
	defer q.mutex.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	item := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return item, true
}

// length returns how many items wait.
func (q *queue) length() int {
	q.mutex.Lock()
	defer q.mutex.Unlock()
	return len(q.items)
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}
