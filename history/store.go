package history

import (
	"context"
	"time"
)

// Position is a place in a channel's stream: the offset of a publication (each one
// more than the previous one of its epoch) and the stream's epoch, a string that changes
// whenever the stream is lost and started again (a node restarted with memory
// history, a stream evicted or expired, Redis flushed or failed over). Two positions
// compare only within one epoch. A value type; the zero Position means "no position".
type Position struct {
	Offset uint64
	Epoch  string
}

// Publication is one stored publication: its offset and its data as published (the
// raw JSON of the publication's "data"). Data returned by a Store is shared with it
// and must not be modified.
type Publication struct {
	Offset uint64
	Data   []byte
}

// Options bound one channel's stream; the delivery side takes them from the
// channel's namespace (history_size, history_ttl). A value type.
type Options struct {
	// Size is the most publications kept; it must be positive (a namespace with
	// history_size 0 has no stream).
	Size int
	// TTL is how long a publication is kept; a stream none of whose publications is
	// younger than TTL may be dropped, and starts again with a new epoch. It must be
	// positive.
	TTL time.Duration
}

// Store keeps the streams of history channels. Implementations are safe for
// concurrent use, and each method makes at most one network round trip, bounded by
// ctx (the memory store makes none).
//
// The contract between the delivery side and a store (the one the history
// helpers agreed on, with two additions: Read with limit 0, and offsets that never
// go back across epochs):
//   - Append assigns offsets one by one in each channel, so offset order is append
//     order. A stream that starts again in a new epoch starts its offsets above
//     those of its previous epoch (the memory store does, see NewMemory): a live
//     subscriber, which sees offsets but not epochs, then sees a gap rather than
//     offsets it would take for duplicates.
//   - A store shared by several nodes (Redis) also publishes each appended
//     publication to every node in offset order, atomically with the append;
//     every node, the appending one included, delivers it from that message
//     (delivery.Publisher.PublishToChannelLocalAt). The memory store publishes
//     nothing: the single node's Publisher delivers after Append, both under one
//     per-channel lock, so local delivery order is offset order too.
//   - Read returns up to limit publications with offset > since, oldest first,
//     and the stream's current top: the position of its last publication (when it
//     has none, the offset its first one will follow). A stream that did not exist
//     gets its epoch at the read, so that a client that subscribed to an empty
//     channel can recover its first publications. limit 0 reads the top only.
//     Recovery from a position is complete only when Recovered says so.
type Store interface {
	// Append stores data (valid JSON; the store keeps its own copy) as the next
	// publication of channel and returns its position.
	Append(ctx context.Context, channel string, data []byte, options Options) (Position, error)
	// Read returns up to limit publications of channel with offset > since, oldest
	// first, and the stream's top.
	Read(ctx context.Context, channel string, since uint64, limit int, options Options) ([]Publication, Position, error)
}

// Recovered reports whether publications, read from a stream whose top is top with
// since = from.Offset, are exactly what a client at position from missed: the same
// epoch, and the publications from.Offset+1 .. top.Offset, every one of them (none
// trimmed by size, TTL or the byte budget, and the read's limit not hit). Anything
// less is not a recovery: a partial one is never presented as complete.
func Recovered(from Position, publications []Publication, top Position) bool {
	if from.Epoch != top.Epoch || from.Offset > top.Offset || uint64(len(publications)) != top.Offset-from.Offset {
		return false
	}
	for index, publication := range publications {
		if publication.Offset != from.Offset+1+uint64(index) {
			return false
		}
	}
	return true
}
