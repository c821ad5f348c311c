package client

import "sync"

// queue is the bounded FIFO of encoded messages waiting to be written. Its methods
// are safe for concurrent use.
type queue struct {
	mutex sync.Mutex
	items [][]byte
	limit int
	// ready holds a token while items may be waiting, to wake the writer.
	ready chan struct{}
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, ready: make(chan struct{}, 1)}
}

// push appends item; it reports false when the queue is full.
func (q *queue) push(item []byte) bool {
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
func (q *queue) pushFront(item []byte) {
	q.mutex.Lock()
	q.items = append([][]byte{item}, q.items...)
	q.mutex.Unlock()
	q.signal()
}

// pop removes and returns the oldest item.
func (q *queue) pop() ([]byte, bool) {
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
