package testsupport

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use, for a test to collect what a
// node's logger writes from many goroutines and read it back. Its zero value is
// empty and ready.
type SyncBuffer struct {
	mutex  sync.Mutex
	buffer bytes.Buffer
}

// Write appends data; it never fails.
func (b *SyncBuffer) Write(data []byte) (int, error) {
	b.mutex.Lock()
	defer b.mutex.Unlock()
	return b.buffer.Write(data)
}

// String returns all that was written so far.
func (b *SyncBuffer) String() string {
	b.mutex.Lock()
	defer b.mutex.Unlock()
	return b.buffer.String()
}
