package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/wsgate/wsgate/protocol"
)

func TestFanoutLogPlacesFramesBackToBackAndNeverAcrossChunks(t *testing.T) {
	var log fanoutLog
	frame := bytes.Repeat([]byte{'x'}, 1000)
	first, inLog := log.place(frame)
	if !inLog || !bytes.Equal(first, frame) || &first[0] == &frame[0] {
		t.Fatal("the frame was not copied into the log")
	}
	second, _ := log.place(frame)
	if !adjoins(&first[0], int32(len(first)), second) {
		t.Fatal("two consecutive frames do not lie back to back")
	}
	// Fill the chunk: the frame that does not fit starts a new chunk and adjoins
	// nothing, however the two chunks lie in memory.
	previous := second
	for range fanoutChunkSize / len(frame) {
		next, _ := log.place(frame)
		if !bytes.Equal(next, frame) {
			t.Fatal("a placed frame differs from the original")
		}
		if !adjoins(&previous[0], int32(len(previous)), next) {
			if cap(log.chunk) != fanoutChunkSize+1 || len(log.chunk) != len(frame) {
				t.Fatalf("a run broke without a new chunk: chunk %d of %d", len(log.chunk), cap(log.chunk))
			}
			return
		}
		previous = next
	}
	t.Fatal("the chunk never filled")
}

func TestFanoutLogLeavesLargeFramesInPlace(t *testing.T) {
	var log fanoutLog
	large := make([]byte, fanoutChunkSize/4+1)
	placed, inLog := log.place(large)
	if inLog || &placed[0] != &large[0] {
		t.Fatal("a frame larger than a quarter chunk was copied")
	}
}

func TestBackToBackBroadcastsQueueOneRunThatOrderedSendsBreak(t *testing.T) {
	hub, s, conn, _ := pacedHub(t, Config{MaxFanoutDelay: 10 * time.Second})
	frames := [][]byte{protocol.TextFrame([]byte("one")), protocol.TextFrame([]byte("two")), protocol.TextFrame([]byte("three"))}
	for _, frame := range frames {
		hub.Broadcast(frame)
	}
	s.out.queueMutex.Lock()
	run, rest := int(s.out.firstLength), s.out.rest
	s.out.queueMutex.Unlock()
	if want := len(frames[0]) + len(frames[1]) + len(frames[2]); run != want || rest != nil {
		t.Fatalf("queue holds a run of %d bytes and more frames %v, want one run of %d", run, rest != nil, want)
	}
	reply, after := protocol.TextFrame([]byte("reply")), protocol.TextFrame([]byte("after"))
	if !s.Send(reply) {
		t.Fatal("the reply was refused")
	}
	hub.Broadcast(after)
	// The reply extends nothing: it follows the run, and the next broadcast follows
	// it; the connection reads all five in that order.
	want := bytes.Join(append(frames, reply, after), nil)
	waitUntil(t, "every frame", func() bool { return len(bytes.Join(conn.Writes()[1:], nil)) >= len(want) })
	if written := bytes.Join(conn.Writes()[1:], nil); !bytes.Equal(written, want) {
		t.Fatalf("writes %q, want %q", written, want)
	}
}
