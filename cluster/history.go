package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/history"
)

// History is the history.Store of a cluster: the streams of history channels live
// in Redis (historyscripts.go), so that a client recovers on whichever node it
// reaches after a reconnect. Append runs one script that assigns the offset,
// appends, trims and SPUBLISHes the publication with its position on the channel's
// Redis channel, atomically; every node subscribed to the channel, the appending
// one included, hands it to its Receiver (PublishToChannelLocalAt) from its
// subscription goroutine, in offset order. Get it from Node.History; its methods are safe for concurrent use,
// make one Redis call each, bounded by Config.Timeout and ctx, and fail at once
// with ErrUnavailable while Redis is known to be unreachable.
type History struct {
	node *Node
}

var _ history.Store = (*History)(nil)

// History returns the node's history store.
func (n *Node) History() *History { return &n.history }

// errOptions is the error for history options without a size or a TTL.
var errOptions = errors.New("cluster: history options need a positive Size and TTL")

// Append stores data (the publication's data as published, valid JSON) as the next
// publication of channel, publishes it to every node with subscribers of channel,
// and returns its position. On error nothing reached another node, except when the
// call timed out after Redis ran it (then the publication may have been delivered;
// the caller cannot tell).
func (h *History) Append(ctx context.Context, channel string, data []byte, options history.Options) (history.Position, error) {
	n := h.node
	if options.Size <= 0 || options.TTL <= 0 {
		return history.Position{}, errOptions
	}
	if !n.available() {
		n.counters.publishFailures.Add(1)
		return history.Position{}, errors.Join(ErrUnavailable, errOutage)
	}
	ctx, cancel := n.call(ctx)
	answer, err := historyAppendScript.Exec(ctx, n.client, n.keys.history(channel),
		h.appendArguments(channel, data, options)).AsStrSlice()
	cancel()
	n.countPublication(err)
	if err != nil {
		return history.Position{}, errors.Join(ErrUnavailable, err)
	}
	n.counters.channelPublished.Add(1)
	n.counters.historyAppended.Add(1)
	return parseAppendAnswer(answer)
}

// appendArguments are historyAppendScript's ARGV.
func (h *History) appendArguments(channel string, data []byte, options history.Options) []string {
	n := h.node
	prefix := (&envelope{kind: kindHistoryPublication, origin: n.tag, channel: channel}).historyPrefix()
	return []string{newEpoch(), milliseconds(n.config.HistoryMetaTTL), strconv.Itoa(options.Size),
		milliseconds(options.TTL), n.keys.channel(channel), rueidis.BinaryString(prefix), rueidis.BinaryString(data)}
}

// parseAppendAnswer reads historyAppendScript's {offset, epoch}.
func parseAppendAnswer(answer []string) (history.Position, error) {
	if len(answer) != 2 {
		return history.Position{}, fmt.Errorf("cluster: history append answered %d values; want 2", len(answer))
	}
	offset, err := strconv.ParseUint(answer[0], 10, 64)
	if err != nil {
		return history.Position{}, fmt.Errorf("cluster: history append answered offset %q: %w", answer[0], err)
	}
	return history.Position{Offset: offset, Epoch: answer[1]}, nil
}

// Read returns up to limit publications of channel with offset > since, oldest
// first, leaving out those beyond the last options.Size and those older than
// options.TTL, and the stream's top; limit 0
// reads the top only. A stream that did not exist gets its epoch now.
func (h *History) Read(ctx context.Context, channel string, since uint64, limit int, options history.Options) ([]history.Publication, history.Position, error) {
	n := h.node
	if options.Size <= 0 || options.TTL <= 0 {
		return nil, history.Position{}, errOptions
	}
	if !n.available() {
		n.counters.historyReadFailures.Add(1)
		return nil, history.Position{}, errors.Join(ErrUnavailable, errOutage)
	}
	// Offsets stay far below 2^53 (a million publications a second for 285 years),
	// where Lua's numbers are exact; a larger since is past any top.
	since = min(since, 1<<53)
	limit = max(limit, 0)
	ctx, cancel := n.call(ctx)
	answer, err := historyReadScript.Exec(ctx, n.client, n.keys.history(channel),
		[]string{newEpoch(), milliseconds(n.config.HistoryMetaTTL), strconv.FormatUint(since, 10),
			strconv.Itoa(limit), strconv.Itoa(options.Size), milliseconds(options.TTL)}).ToArray()
	cancel()
	n.observe(err)
	if err != nil {
		n.counters.historyReadFailures.Add(1)
		return nil, history.Position{}, errors.Join(ErrUnavailable, err)
	}
	n.counters.historyReads.Add(1)
	return parseReadAnswer(answer)
}

// parseReadAnswer reads historyReadScript's {top offset, epoch, offset, data, ...}.
func parseReadAnswer(answer []rueidis.RedisMessage) ([]history.Publication, history.Position, error) {
	if len(answer) < 2 || len(answer)%2 != 0 {
		return nil, history.Position{}, fmt.Errorf("cluster: history read answered %d values; want an even number from 2", len(answer))
	}
	texts := make([]string, len(answer))
	for index := range answer {
		text, err := answer[index].ToString()
		if err != nil {
			return nil, history.Position{}, fmt.Errorf("cluster: history read answer: %w", err)
		}
		texts[index] = text
	}
	top, err := parseAppendAnswer(texts[:2])
	if err != nil {
		return nil, history.Position{}, err
	}
	var publications []history.Publication
	if len(texts) > 2 {
		publications = make([]history.Publication, 0, (len(texts)-2)/2)
	}
	for index := 2; index < len(texts); index += 2 {
		offset, err := strconv.ParseUint(texts[index], 10, 64)
		if err != nil {
			return nil, history.Position{}, fmt.Errorf("cluster: history read answered offset %q: %w", texts[index], err)
		}
		publications = append(publications, history.Publication{Offset: offset, Data: []byte(texts[index+1])})
	}
	return publications, top, nil
}

// newEpoch draws an epoch for a stream that is (re)started by the script it is
// passed to: 64 random bits, so that no two lives of one stream share an epoch.
func newEpoch() string {
	var bytes [8]byte
	_, _ = rand.Read(bytes[:])
	return hex.EncodeToString(bytes[:])
}

// milliseconds writes a duration in whole milliseconds, at least 1 (PEXPIRE's
// smallest).
func milliseconds(duration time.Duration) string {
	return strconv.FormatInt(max(duration.Milliseconds(), 1), 10)
}
