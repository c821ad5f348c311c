package history

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBytes is the default node-wide budget of a Memory store: 64 MiB of
// accounted bytes (payloads plus EntryOverhead per publication and StreamOverhead
// plus the name per channel).
const DefaultMaxBytes = 64 << 20

// EntryOverhead is what one stored publication is accounted beyond its payload in
// the byte budget: its 32-byte ring entry (the data's slice header and its
// timestamp) and the copy's allocation rounding, about 12 bytes on average.
// Measured (BenchmarkMemoryPerPublication, 100-byte payloads, amd64): see
// benchmarks/README.md, "History".
const EntryOverhead = 44

// StreamOverhead is what one channel's stream is accounted beyond its name and
// its publications: the stream itself (120 bytes in a 128-byte allocation), its map
// entry (about 50 bytes) and its epoch (16).
const StreamOverhead = 200

// MemoryConfig configures a Memory store. Zero values mean the defaults.
type MemoryConfig struct {
	// MaxBytes is the node-wide budget in accounted bytes (see DefaultMaxBytes).
	// When an append takes the store over it, whole streams go, least recently
	// appended first, and are counted in MemoryStats.EvictedStreams; a stream that
	// alone exceeds it loses its oldest publications. Default DefaultMaxBytes.
	MaxBytes int64
}

// Memory is the history store of a single node: every stream in this process's
// memory, lost with it (a restarted node starts every stream with a new epoch).
// Each stream holds at most Options.Size publications, none older than
// Options.TTL; all together hold at most MemoryConfig.MaxBytes accounted bytes.
// Its methods are safe for concurrent use: one mutex guards every stream, held for
// O(1) per Append (amortised) and O(publications read) per Read, never during an
// allocation of the payload's copy. Neither makes a network round trip.
type Memory struct {
	maxBytes int64
	// epochPrefix is random per store, so that no epoch of a restarted process
	// equals one of before; a stream's epoch is the prefix and its generation.
	epochPrefix string

	mutex      sync.Mutex
	streams    map[string]*stream
	generation uint64
	// issued is the highest offset any stream of the store has issued: a new
	// stream starts after it (see NewMemory).
	issued uint64
	// oldest and newest end the list of streams by last append (or creation): the
	// budget evicts from oldest, and idle streams are dropped from there too.
	oldest, newest *stream
	// bytes is the accounted size of every stream, guarded by mutex; the counters
	// mirror the totals for Stats without the mutex.
	bytes    int64
	counters memoryCounters
}

// memoryCounters are the store's figures, maintained on every change.
type memoryCounters struct {
	streams, publications, bytes        atomic.Int64
	appended                            atomic.Uint64
	evictedStreams, evictedPublications atomic.Uint64
	expiredStreams, expiredPublications atomic.Uint64
	trimmedPublications                 atomic.Uint64
}

// NewMemory returns an empty Memory store. Its first stream's first offset is 1;
// every stream created later, including one that starts again after it was dropped
// (expired, evicted), starts after the highest offset the store issued so far. So
// no offset of a channel is ever issued twice by one store: a live subscriber of
// a stream that started again sees the offsets jump forward (a gap, in a new
// epoch) and never back to offsets it has seen, which it would take for
// duplicates.
func NewMemory(config MemoryConfig) (*Memory, error) {
	if config.MaxBytes < 0 {
		return nil, errors.New("history: MemoryConfig.MaxBytes is negative")
	}
	if config.MaxBytes == 0 {
		config.MaxBytes = DefaultMaxBytes
	}
	random := make([]byte, 4)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	return &Memory{maxBytes: config.MaxBytes, epochPrefix: hex.EncodeToString(random),
		streams: make(map[string]*stream)}, nil
}

var _ Store = (*Memory)(nil)

// errInvalidOptions refuses options without a positive size and TTL.
var errInvalidOptions = errors.New("history: Options.Size and Options.TTL must be positive")

// Append implements Store.
func (m *Memory) Append(ctx context.Context, channel string, data []byte, options Options) (Position, error) {
	if options.Size <= 0 || options.TTL <= 0 {
		return Position{}, errInvalidOptions
	}
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	stored := append(make([]byte, 0, len(data)), data...)
	now := time.Now().UnixNano()
	m.mutex.Lock()
	defer m.mutex.Unlock()
	target := m.streamLocked(channel, now, options)
	m.expireLocked(target, now)
	dropped := target.push(stored, now, options.Size)
	m.issued = max(m.issued, target.top)
	if dropped > 0 {
		m.counters.trimmedPublications.Add(1)
		m.counters.publications.Add(-1)
	}
	m.addBytesLocked(entryBytes(len(stored)) - dropped)
	m.counters.publications.Add(1)
	m.counters.appended.Add(1)
	target.touched = now
	m.moveNewestLocked(target)
	m.dropIdleLocked(now)
	m.evictLocked(target)
	return Position{Offset: target.top, Epoch: target.epoch}, nil
}

// Read implements Store.
func (m *Memory) Read(ctx context.Context, channel string, since uint64, limit int, options Options) ([]Publication, Position, error) {
	if options.Size <= 0 || options.TTL <= 0 {
		return nil, Position{}, errInvalidOptions
	}
	if err := ctx.Err(); err != nil {
		return nil, Position{}, err
	}
	now := time.Now().UnixNano()
	m.mutex.Lock()
	defer m.mutex.Unlock()
	target := m.streamLocked(channel, now, options)
	m.expireLocked(target, now)
	top := Position{Offset: target.top, Epoch: target.epoch}
	if limit <= 0 || since >= target.top {
		return nil, top, nil
	}
	return target.read(since, limit, make([]Publication, 0, min(limit, target.count))), top, nil
}

// streamLocked returns channel's stream, created (with a new epoch, as newest)
// when it has none; its TTL becomes options'.
func (m *Memory) streamLocked(channel string, now int64, options Options) *stream {
	found := m.streams[channel]
	if found == nil {
		m.generation++
		found = &stream{name: strings.Clone(channel), epoch: m.epochPrefix + "-" + strconv.FormatUint(m.generation, 36),
			top: m.issued, touched: now}
		m.streams[found.name] = found
		m.counters.streams.Add(1)
		m.addBytesLocked(streamBytes(channel))
		m.linkNewestLocked(found)
	}
	found.ttl = int64(options.TTL)
	return found
}

// streamBytes is what a stream without publications is accounted.
func streamBytes(channel string) int64 { return StreamOverhead + int64(len(channel)) }

// expireLocked drops target's publications older than its TTL.
func (m *Memory) expireLocked(target *stream, now int64) {
	count, bytes := target.expire(now - target.ttl)
	if count > 0 {
		m.counters.expiredPublications.Add(uint64(count))
		m.counters.publications.Add(-int64(count))
		m.addBytesLocked(-bytes)
	}
}

// dropIdleLocked drops the streams at the old end of the list whose last append
// is older than their TTL: every publication they held has expired, so they keep
// nothing worth an epoch. It stops at the first stream still alive, so it costs
// O(1) amortised per append (a long-TTL stream may shelter shorter-lived ones
// behind it until the budget evicts them).
func (m *Memory) dropIdleLocked(now int64) {
	for m.oldest != nil && now-m.oldest.touched > m.oldest.ttl {
		m.counters.expiredStreams.Add(1)
		m.counters.expiredPublications.Add(uint64(m.oldest.count))
		m.removeLocked(m.oldest)
	}
}

// evictLocked brings the store within its budget: whole streams first, least
// recently appended first, except keep (the stream just appended to), which then
// loses its oldest publications, down to its newest.
func (m *Memory) evictLocked(keep *stream) {
	for m.bytes > m.maxBytes && m.oldest != keep {
		m.counters.evictedStreams.Add(1)
		m.counters.evictedPublications.Add(uint64(m.oldest.count))
		m.removeLocked(m.oldest)
	}
	for m.bytes > m.maxBytes && keep.count > 1 {
		m.addBytesLocked(-keep.dropOldest())
		m.counters.evictedPublications.Add(1)
		m.counters.publications.Add(-1)
	}
}

// removeLocked forgets a stream and everything it holds.
func (m *Memory) removeLocked(gone *stream) {
	m.unlinkLocked(gone)
	delete(m.streams, gone.name)
	m.counters.streams.Add(-1)
	m.counters.publications.Add(-int64(gone.count))
	m.addBytesLocked(-gone.bytes - streamBytes(gone.name))
}

func (m *Memory) addBytesLocked(delta int64) {
	m.bytes += delta
	m.counters.bytes.Store(m.bytes)
}

// linkNewestLocked puts a stream that is in no list at the new end.
func (m *Memory) linkNewestLocked(target *stream) {
	target.older, target.newer = m.newest, nil
	if m.newest != nil {
		m.newest.newer = target
	} else {
		m.oldest = target
	}
	m.newest = target
}

// unlinkLocked takes target out of the list.
func (m *Memory) unlinkLocked(target *stream) {
	if target.older != nil {
		target.older.newer = target.newer
	} else {
		m.oldest = target.newer
	}
	if target.newer != nil {
		target.newer.older = target.older
	} else {
		m.newest = target.older
	}
	target.older, target.newer = nil, nil
}

// moveNewestLocked moves target to the new end of the list.
func (m *Memory) moveNewestLocked(target *stream) {
	if m.newest == target {
		return
	}
	m.unlinkLocked(target)
	m.linkNewestLocked(target)
}

// MemoryStats are a Memory store's figures, for metrics. Gauges are exact at the
// moment each is read; counters only grow.
type MemoryStats struct {
	// Streams, Publications and Bytes are what the store holds now: channels with
	// a stream, publications, accounted bytes. MaxBytes is the budget.
	Streams, Publications, Bytes, MaxBytes int64
	// Appended counts the publications appended.
	Appended uint64
	// EvictedStreams and EvictedPublications count what the byte budget removed
	// (whole streams, oldest first, and their publications).
	EvictedStreams, EvictedPublications uint64
	// ExpiredStreams and ExpiredPublications count what history_ttl removed.
	ExpiredStreams, ExpiredPublications uint64
	// TrimmedPublications counts the publications history_size pushed out.
	TrimmedPublications uint64
}

// Stats returns the store's figures without taking its mutex: O(1).
func (m *Memory) Stats() MemoryStats {
	return MemoryStats{
		Streams:             m.counters.streams.Load(),
		Publications:        m.counters.publications.Load(),
		Bytes:               m.counters.bytes.Load(),
		MaxBytes:            m.maxBytes,
		Appended:            m.counters.appended.Load(),
		EvictedStreams:      m.counters.evictedStreams.Load(),
		EvictedPublications: m.counters.evictedPublications.Load(),
		ExpiredStreams:      m.counters.expiredStreams.Load(),
		ExpiredPublications: m.counters.expiredPublications.Load(),
		TrimmedPublications: m.counters.trimmedPublications.Load(),
	}
}
