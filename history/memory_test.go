package history_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/testsupport"
)

var ctx = context.Background()

func newMemory(t testing.TB, maxBytes int64) *history.Memory {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func appendData(t testing.TB, store history.Store, channel, data string, options history.Options) history.Position {
	t.Helper()
	position, err := store.Append(ctx, channel, []byte(data), options)
	if err != nil {
		t.Fatal(err)
	}
	return position
}

func offsetsOf(publications []history.Publication) []uint64 {
	offsets := make([]uint64, len(publications))
	for index, publication := range publications {
		offsets[index] = publication.Offset
	}
	return offsets
}

var hour = history.Options{Size: 5, TTL: time.Hour}

// TestMemoryAssignsOffsetsAndKeepsTheLastSize: offsets count up per channel from 1
// in one epoch per channel; the stream keeps the last Size, and Read returns those
// after since, oldest first, up to limit, with the top.
func TestMemoryAssignsOffsetsAndKeepsTheLastSize(t *testing.T) {
	store := newMemory(t, 0)
	for offset := uint64(1); offset <= 8; offset++ {
		if position := appendData(t, store, "a", strconv.FormatUint(offset, 10), hour); position.Offset != offset || position.Epoch == "" {
			t.Fatalf("append %d: %+v", offset, position)
		}
	}
	other := appendData(t, store, "b", `"x"`, hour)
	publications, top, err := store.Read(ctx, "a", 0, 100, hour)
	if err != nil {
		t.Fatal(err)
	}
	// "b" starts after the highest offset issued: 8.
	if got := fmt.Sprint(offsetsOf(publications)); got != "[4 5 6 7 8]" || top.Offset != 8 || other.Offset != 9 || other.Epoch == top.Epoch {
		t.Fatalf("read offsets %s, top %+v, other channel %+v", got, top, other)
	}
	if string(publications[0].Data) != "4" || string(publications[4].Data) != "8" {
		t.Fatalf("data %q .. %q", publications[0].Data, publications[4].Data)
	}
	publications, _, _ = store.Read(ctx, "a", 5, 2, hour)
	if got := fmt.Sprint(offsetsOf(publications)); got != "[6 7]" {
		t.Fatalf("read after 5, limit 2: %s", got)
	}
	publications, top, _ = store.Read(ctx, "a", 3, 0, hour)
	if len(publications) != 0 || top.Offset != 8 {
		t.Fatalf("limit 0: %d publications, top %+v", len(publications), top)
	}
	if !history.Recovered(history.Position{Offset: 3, Epoch: top.Epoch}, mustRead(t, store, "a", 3, 10), top) {
		t.Fatal("recovery from 3 with 4..8 held is not complete")
	}
	if history.Recovered(history.Position{Offset: 2, Epoch: top.Epoch}, mustRead(t, store, "a", 2, 10), top) {
		t.Fatal("recovery from 2 after 3 was trimmed counts as complete")
	}
	if stats := store.Stats(); stats.Streams != 2 || stats.Publications != 6 || stats.TrimmedPublications != 3 || stats.Appended != 9 {
		t.Fatalf("stats %+v", stats)
	}
}

func mustRead(t *testing.T, store history.Store, channel string, since uint64, limit int) []history.Publication {
	t.Helper()
	publications, _, err := store.Read(ctx, channel, since, limit, hour)
	if err != nil {
		t.Fatal(err)
	}
	return publications
}

// TestMemoryReadOfAnEmptyChannelFixesItsEpoch: a subscriber of a channel without
// publications gets a position ({0, E}) from which its first publications are
// recoverable.
func TestMemoryReadOfAnEmptyChannelFixesItsEpoch(t *testing.T) {
	store := newMemory(t, 0)
	_, empty, err := store.Read(ctx, "quiet", 0, 10, hour)
	if err != nil {
		t.Fatal(err)
	}
	appendData(t, store, "quiet", "1", hour)
	publications, top, _ := store.Read(ctx, "quiet", 0, 10, hour)
	if empty.Offset != 0 || empty.Epoch == "" || !history.Recovered(empty, publications, top) {
		t.Fatalf("from %+v: %v up to %+v is not a recovery", empty, offsetsOf(publications), top)
	}
}

// TestMemoryExpiresByTTL: publications older than the TTL are not read, so a
// recovery across them fails; a stream idle for longer than its TTL is dropped and
// starts again in a new epoch.
func TestMemoryExpiresByTTL(t *testing.T) {
	store := newMemory(t, 0)
	short := history.Options{Size: 100, TTL: 50 * time.Millisecond}
	first := appendData(t, store, "a", "1", short)
	appendData(t, store, "a", "2", short)
	testsupport.WaitFor(t, 5*time.Second, "the publications to expire", func() bool {
		publications, _, _ := store.Read(ctx, "a", 0, 10, short)
		return len(publications) == 0
	})
	_, top, _ := store.Read(ctx, "a", 0, 10, short)
	if top.Offset != 2 || top.Epoch != first.Epoch {
		t.Fatalf("top after expiry %+v, want offset 2 in epoch %s", top, first.Epoch)
	}
	if history.Recovered(first, nil, top) {
		t.Fatal("recovery across expired publications counts as complete")
	}
	// Another channel's append drops the idle stream; "a" then starts over in a
	// new epoch, its offsets above those it issued before (3 is "b"'s).
	appendData(t, store, "b", "1", short)
	restarted := appendData(t, store, "a", "3", short)
	if restarted.Offset != 4 || restarted.Epoch == first.Epoch {
		t.Fatalf("after the idle stream was dropped: %+v (before: %+v)", restarted, first)
	}
	if stats := store.Stats(); stats.ExpiredPublications != 2 || stats.ExpiredStreams != 1 || stats.Publications != 2 {
		t.Fatalf("stats %+v", stats)
	}
}

// TestMemoryBudgetEvictsTheOldestStreamsFirst: over the byte budget, the least
// recently appended channels lose their whole history first; the stream appended
// to stays; the accounted bytes return to what is held.
func TestMemoryBudgetEvictsTheOldestStreamsFirst(t *testing.T) {
	payload := string(make([]byte, 100))
	perStream := history.StreamOverhead + 2 + 2*(100+history.EntryOverhead)
	store := newMemory(t, int64(3*perStream))
	options := history.Options{Size: 10, TTL: time.Hour}
	for _, channel := range []string{"c1", "c2", "c3"} {
		appendData(t, store, channel, payload, options)
		appendData(t, store, channel, payload, options)
	}
	appendData(t, store, "c1", payload, options) // c1 becomes the newest; c2 the oldest
	stats := store.Stats()
	if stats.EvictedStreams != 1 || stats.EvictedPublications != 2 || stats.Streams != 2 || stats.Bytes > stats.MaxBytes {
		t.Fatalf("after going over the budget: %+v", stats)
	}
	if publications, _, _ := store.Read(ctx, "c3", 0, 10, options); len(publications) != 2 {
		t.Fatalf("c3 was evicted instead of c2: it holds %d", len(publications))
	}
	if publications, top, _ := store.Read(ctx, "c2", 0, 10, options); len(publications) != 0 || top.Offset != 6 {
		t.Fatalf("c2 kept its history (%d) or starts again at %+v, not after offset 6, the highest issued", len(publications), top)
	}

	// One stream larger than the whole budget keeps its newest publications.
	alone := newMemory(t, int64(history.StreamOverhead+1+3*(100+history.EntryOverhead)))
	for range 10 {
		appendData(t, alone, "x", payload, options)
	}
	publications, top, _ := alone.Read(ctx, "x", 0, 10, options)
	if got := fmt.Sprint(offsetsOf(publications)); got != "[8 9 10]" || top.Offset != 10 {
		t.Fatalf("a stream over the budget holds %s, top %+v", got, top)
	}
}

// TestMemoryAppendsConcurrently: concurrent appends to one channel get distinct
// consecutive offsets (run under -race).
func TestMemoryAppendsConcurrently(t *testing.T) {
	store := newMemory(t, 0)
	options := history.Options{Size: 1000, TTL: time.Hour}
	var group sync.WaitGroup
	seen := make([]bool, 801)
	var mutex sync.Mutex
	for range 8 {
		group.Go(func() {
			for range 100 {
				position := appendData(t, store, "c", "1", options)
				mutex.Lock()
				seen[position.Offset] = true
				mutex.Unlock()
			}
		})
	}
	group.Wait()
	for offset := 1; offset <= 800; offset++ {
		if !seen[offset] {
			t.Fatalf("offset %d never assigned", offset)
		}
	}
}

func TestMemoryRefusesInvalidOptions(t *testing.T) {
	store := newMemory(t, 0)
	if _, err := store.Append(ctx, "c", []byte("1"), history.Options{TTL: time.Hour}); err == nil {
		t.Fatal("Append without a size succeeded")
	}
	if _, _, err := store.Read(ctx, "c", 0, 1, history.Options{Size: 1}); err == nil {
		t.Fatal("Read without a TTL succeeded")
	}
	if _, err := history.NewMemory(history.MemoryConfig{MaxBytes: -1}); err == nil {
		t.Fatal("a negative budget was accepted")
	}
}

// TestMemoryAccountsWhatItHolds: the accounted bytes per publication (payload plus
// EntryOverhead) are within a few bytes of the heap a stored 100-byte publication
// really takes, so the budget means what it says.
func TestMemoryAccountsWhatItHolds(t *testing.T) {
	const channels, perChannel = 100, 1000
	payload := make([]byte, 100)
	store := newMemory(t, 1<<40)
	options := history.Options{Size: perChannel, TTL: time.Hour}
	before := testsupport.LiveHeap()
	for channel := range channels {
		name := "channel-" + strconv.Itoa(channel)
		for range perChannel {
			if _, err := store.Append(ctx, name, payload, options); err != nil {
				t.Fatal(err)
			}
		}
	}
	perPublication := float64(testsupport.LiveHeap()-before)/(channels*perChannel) - 100
	runtime.KeepAlive(store)
	if perPublication < 0 || perPublication > 2*history.EntryOverhead {
		t.Fatalf("%.1f bytes per stored publication beyond its payload; EntryOverhead says %d", perPublication, history.EntryOverhead)
	}
	t.Logf("%.1f bytes per stored publication beyond a 100-byte payload (EntryOverhead %d)", perPublication, history.EntryOverhead)
}
