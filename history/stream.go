package history

// stream is one channel's history in the memory store: its publications in a ring
// and its place in the store's list of streams by last append. Guarded by the
// store's mutex.
type stream struct {
	name  string
	epoch string
	// top is the offset of the last publication appended (before any, the offset
	// the stream started after); the entries held are the offsets top-count+1 ..
	// top.
	top uint64
	// entries is a ring of count entries starting at head; it grows by doubling up
	// to the stream's size, so a channel with few publications holds few entries.
	entries []entry
	head    int
	count   int
	// bytes is the accounted size of the entries (entryBytes each).
	bytes int64
	// touched is when the stream was created or last appended to (Unix
	// nanoseconds); ttl is the TTL of its last append or read, in nanoseconds.
	touched int64
	ttl     int64
	// older and newer link the store's list of streams by touched.
	older, newer *stream
}

// entry is one stored publication: its data (the store's own copy) and when it
// was appended (Unix nanoseconds). 32 bytes.
type entry struct {
	data []byte
	at   int64
}

// entryBytes returns what a publication with data of length size is accounted in
// the store's budget: its payload and EntryOverhead.
func entryBytes(size int) int64 { return int64(size) + EntryOverhead }

// push appends data as the next publication, first dropping the oldest when the
// stream holds size publications; it returns the accounted bytes it dropped (0 or
// one entry's).
func (s *stream) push(data []byte, at int64, size int) (dropped int64) {
	if s.count == size {
		dropped = s.dropOldest()
	}
	if s.count == len(s.entries) {
		s.grow(size)
	}
	s.entries[(s.head+s.count)%len(s.entries)] = entry{data: data, at: at}
	s.count++
	s.top++
	s.bytes += entryBytes(len(data))
	return dropped
}

// grow makes room for at least one more entry, doubling the ring up to size, and
// lays the entries out from position 0.
func (s *stream) grow(size int) {
	capacity := min(max(2*len(s.entries), 4), max(size, s.count+1))
	grown := make([]entry, capacity)
	for index := range s.count {
		grown[index] = s.entries[(s.head+index)%len(s.entries)]
	}
	s.entries, s.head = grown, 0
}

// dropOldest removes the oldest entry and returns its accounted bytes. The
// stream holds at least one.
func (s *stream) dropOldest() int64 {
	oldest := &s.entries[s.head]
	dropped := entryBytes(len(oldest.data))
	*oldest = entry{}
	s.head = (s.head + 1) % len(s.entries)
	s.count--
	s.bytes -= dropped
	return dropped
}

// expire drops the entries appended before cutoff (Unix nanoseconds) and returns
// how many and their accounted bytes.
func (s *stream) expire(cutoff int64) (count int, bytes int64) {
	for s.count > 0 && s.entries[s.head].at < cutoff {
		bytes += s.dropOldest()
		count++
	}
	return count, bytes
}

// read appends the publications with offset > since to into, up to limit in all,
// oldest first.
func (s *stream) read(since uint64, limit int, into []Publication) []Publication {
	first := s.top - uint64(s.count) + 1
	start := max(since+1, first)
	for offset := start; offset <= s.top && len(into) < limit; offset++ {
		index := (s.head + int(offset-first)) % len(s.entries)
		into = append(into, Publication{Offset: offset, Data: s.entries[index].data})
	}
	return into
}
