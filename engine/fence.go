package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/lesismal/nbio"
)

// reuseFence keeps an error event of a closed socket from cutting the socket that
// reuses its descriptor number.
//
// An nbio poller takes up to 1,024 events from one epoll_wait and then looks up each
// event's connection by descriptor number. A socket closed off the poller (by wsgate's
// executor or timer, or by nbio itself when a write fails on a reset connection) frees
// its number while an event of it may still wait in that batch; the kernel gives the
// lowest free number to the next accepted socket, and once nbio registered that one
// under the number, the old socket's EPOLLHUP, EPOLLERR or EPOLLRDHUP closes the new
// connection (nbio v1.6.12, poller_epoll.go: getConn, then closeWithError(io.EOF))
// before its request is read: the client reads EOF instead of its 101.
//
// The fence runs on the accept goroutine between accept and registration. It wakes the
// poller that will own the new socket (pollers are chosen by descriptor number modulo
// their count) through a socket pair of its own, registered on that poller, and waits
// until the poller reads the byte: the poller takes that event from an epoll_wait
// after the accept, so the batch it was working on, with any event of the number's
// previous socket, is done. One write and one poller round trip per accepted socket,
// a few microseconds on an idle poller; a busy one delays accepting by the rest of
// its batch. Safe for concurrent use; waits are serialized.
//
// Only a reused number needs it: a number no socket of this engine has had before
// has no previous socket whose event could be pending. A connect storm on a fresh
// node takes fresh numbers (as many as it holds connections), so it accepts at the
// engine's rate: fencing every socket cost about 80 us of CPU and a poller round trip
// per connect (15,000 connects, one core: 212-251 us of server CPU per connection
// against 115-139 us for bare nbio). Churn, which reuses numbers, is fenced.
type reuseFence struct {
	mutex sync.Mutex
	// wakers[i] is the writing end of the pair whose reading end poller i reads;
	// woken[i] receives a value once per read.
	wakers []*os.File
	woken  []chan struct{}
	// used has bit n set once a socket was accepted under descriptor number n;
	// guarded by mutex.
	used []uint64
	// stopped is closed by close: a wait in progress returns.
	stopped   chan struct{}
	closeOnce sync.Once
}

// newReuseFence registers one socket pair per poller of engine, which must be
// running with pollers pollers.
func newReuseFence(engine *nbio.Engine, pollers int) (*reuseFence, error) {
	fence := &reuseFence{
		wakers:  make([]*os.File, pollers),
		woken:   make([]chan struct{}, pollers),
		stopped: make(chan struct{}),
	}
	for index := range fence.woken {
		fence.woken[index] = make(chan struct{}, 1)
	}
	// A pair lands on the poller its descriptor number selects: make pairs, each aimed
	// at a poller still missing one, until every poller has one. A pair that lands
	// elsewhere (another goroutine took the number aimed at) stays open until then,
	// so that the next pair gets other numbers.
	var spares []io.Closer
	defer func() {
		for _, spare := range spares {
			_ = spare.Close()
		}
	}()
	for attempts, missing := 0, pollers; missing > 0; attempts++ {
		if attempts >= 8*pollers+8 {
			fence.close()
			return nil, errors.New("engine: could not place a wake socket on every poller")
		}
		reader, writer, err := wakePair(slices.Index(fence.wakers, nil), pollers)
		if err != nil {
			fence.close()
			return nil, err
		}
		index := reader.Hash() % pollers
		if fence.wakers[index] != nil {
			spares = append(spares, reader, writer)
			continue
		}
		woken := fence.woken[index]
		reader.OnData(func(*nbio.Conn, []byte) {
			select {
			case woken <- struct{}{}:
			default:
			}
		})
		if _, err := engine.AddConn(reader); err != nil {
			_ = writer.Close()
			fence.close()
			return nil, fmt.Errorf("engine: register a wake socket: %w", err)
		}
		publishToPollers()
		fence.wakers[index] = writer
		missing--
	}
	return fence, nil
}

// wakePair returns a connected Unix socket pair: a non-blocking nbio end for a poller
// to read, and a blocking end to write to. The reading end is aimed at poller index
// of pollers: nbio picks a socket's poller by its descriptor number modulo the
// count, and gives the socket the lowest free number (NBConn duplicates the
// descriptor), so the numbers below one that selects index are held for the
// moment. Another goroutine that opens a descriptor meanwhile can take the number;
// the caller checks where the pair landed.
func wakePair(index, pollers int) (*nbio.Conn, *os.File, error) {
	fds, err := socketPair()
	if err != nil {
		return nil, nil, fmt.Errorf("engine: wake socket pair: %w", err)
	}
	readerFile := os.NewFile(uintptr(fds[0]), "wake-reader")
	writer := os.NewFile(uintptr(fds[1]), "wake-writer")
	conn, err := net.FileConn(readerFile)
	_ = readerFile.Close()
	if err != nil {
		_ = writer.Close()
		return nil, nil, fmt.Errorf("engine: wake socket: %w", err)
	}
	held := holdNumbersBelow(fds[1], index, pollers)
	reader, err := nbio.NBConn(conn)
	for _, number := range held {
		_ = syscall.Close(number)
	}
	if err != nil {
		_ = conn.Close()
		_ = writer.Close()
		return nil, nil, fmt.Errorf("engine: wake socket: %w", err)
	}
	return reader, writer, nil
}

// socketPair returns a connected pair of Unix stream sockets, both close-on-exec.
// SOCK_CLOEXEC is Linux's; elsewhere (darwin) the flag is set after, under the
// fork lock as package net does, so that no exec in between inherits them.
func socketPair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return fds, nil
}

// holdNumbersBelow duplicates descriptor source until the lowest free number is one
// that selects poller index of pollers, and returns the duplicates it keeps open
// (at most pollers - 1): the caller closes them once it has taken that number. A
// failed duplication stops early; the caller's check then finds the pair elsewhere.
func holdNumbersBelow(source, index, pollers int) []int {
	var held []int
	for range pollers {
		number, err := syscall.Dup(source)
		if err != nil {
			break
		}
		if number%pollers == index {
			_ = syscall.Close(number)
			break
		}
		held = append(held, number)
	}
	return held
}

// wait returns once the poller that owns descriptor number fd has finished the batch
// of events it was working on, or the fence closed; at once when no socket of this
// engine had the number before.
func (f *reuseFence) wait(fd int) {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	if f.claimFresh(fd) {
		return
	}
	index := fd % len(f.wakers)
	if _, err := f.wakers[index].Write([]byte{0}); err != nil {
		return
	}
	select {
	case <-f.woken[index]:
	case <-f.stopped:
	}
}

// claimFresh marks descriptor number fd used and reports whether it was not yet;
// the caller holds mutex.
func (f *reuseFence) claimFresh(fd int) bool {
	word, bit := fd/64, uint64(1)<<(fd%64)
	if word >= len(f.used) {
		f.used = append(f.used, make([]uint64, word+1-len(f.used))...)
	}
	if f.used[word]&bit != 0 {
		return false
	}
	f.used[word] |= bit
	return true
}

// close releases a wait in progress and closes the writing ends; the engine closes
// the reading ends when it stops.
func (f *reuseFence) close() {
	f.closeOnce.Do(func() { close(f.stopped) })
	for _, writer := range f.wakers {
		if writer != nil {
			_ = writer.Close()
		}
	}
}
