package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// Joining a history channel: the seam between the stream's past and its live
// publications. A connection that subscribes to a history channel, with or
// without a position to recover from, is answered "subscribed" with the stream's
// position (and "recovered"), then the publications it missed, then the live
// ones, none twice and none left out:
//
//  1. Under the channel's stripe lock it enters the index and the channel's list of
//     joiners together. From then on every publication of the channel is delivered
//     under the same lock (deliverLocked), and for a joiner it goes to its buffer
//     instead of its connection.
//  2. Without any lock the stream is read: its top and, for a recovery, the
//     publications after the client's offset (in a cluster, only once this node's
//     subscription to the channel is confirmed, so that every publication appended
//     after the read reaches this node: Config.ChannelReady).
//  3. Under the stripe lock again: "subscribed", the missed publications, then the
//     buffered ones with an offset above the last sent (those the read returned
//     too are dropped), and the connection is live.
//
// On a single node append and delivery of one channel happen under its stripe lock
// together, so after step 3 every publication has an offset above the top read:
// the joiner leaves the list. In a cluster a publication appended before the read
// may still be on its way from Redis to this node; the joiner then stays in the
// list, answered, and skips what it was sent already, until the first live
// publication above it arrives (publications arrive in offset order).

// stripeCount is the number of stripe locks the channels share: enough that
// unrelated channels rarely wait for each other.
const stripeCount = 256

// streams holds the stripes and their joiners.
type streams struct {
	seed    maphash.Seed
	stripes [stripeCount]stripe
	// joiners counts the joiners listed in every stripe, so that a closing
	// connection looks for its own only when there are any.
	joiners atomic.Int64
}

// stripe serializes the deliveries of its channels with their joins. joining holds
// each channel's joiners; guarded by mutex.
type stripe struct {
	mutex   sync.Mutex
	joining map[string][]*joiner
}

func (x *streams) init() {
	x.seed = maphash.MakeSeed()
	for index := range x.stripes {
		x.stripes[index].joining = make(map[string][]*joiner)
	}
}

// of returns channel's stripe.
func (x *streams) of(channel string) *stripe {
	return &x.stripes[maphash.String(x.seed, channel)%stripeCount]
}

// joiner is one connection joining a history channel; guarded by its stripe's
// mutex once listed.
type joiner struct {
	session *session.Session
	channel string
	id      json.RawMessage
	options history.Options
	// recover and from are the client's request to recover; recoverMax bounds it.
	recover    bool
	from       history.Position
	recoverMax int
	// answered says "subscribed" went out; sent is the position of the last
	// publication sent then (the zero Position when the store could not be read).
	answered bool
	sent     history.Position
	// buffer holds the live publications that arrived before the answer, bytes
	// their size.
	buffer []bufferedPublication
	bytes  int
	// listed says the joiner is in its stripe's list.
	listed bool
}

type bufferedPublication struct {
	position history.Position
	frame    []byte
}

// joinRequest is what a subscribe asks of a history channel besides the channel:
// its id, and the position to recover from when recover is set.
type joinRequest struct {
	id      json.RawMessage
	recover bool
	from    history.Position
}

// join subscribes s to channel, whose namespace has options, and answers
// "subscribed": at once for a channel without history (with "recovered":false
// when the request asked to recover, there being nothing to recover from), and
// with the stream's position for a history channel (joinHistory).
func (p *Publisher) join(s *session.Session, channel string, options channels.NamespaceOptions, request joinRequest) error {
	if p.hasHistory(options) {
		return p.joinHistory(s, channel, options, request)
	}
	if err := p.subscribe(s, channel, options); err != nil {
		return err
	}
	answer := protocol.ChannelAnswer{Type: protocol.TypeSubscribed, Channel: channel, ID: request.id}
	if request.recover {
		answer.Recovered = new(bool)
	}
	s.Send(answer.Frame())
	return nil
}

// hasHistory reports whether channels with options keep a history here.
func (p *Publisher) hasHistory(options channels.NamespaceOptions) bool {
	return p.history != nil && options.HasHistory()
}

// historyOptions are the store's options for a namespace's channels.
func historyOptions(options channels.NamespaceOptions) history.Options {
	return history.Options{Size: options.HistorySize, TTL: options.HistoryTTL}
}

// errQueueFull answers a join whose read found the history workers' queue full.
var errQueueFull = errors.New("history workers busy")

// joinHistory is join for a history channel: steps 1 to 3 above, the read on the
// calling goroutine on a single node (the memory store makes no round trip), on a
// history worker in a cluster.
func (p *Publisher) joinHistory(s *session.Session, channel string, options channels.NamespaceOptions, request joinRequest) error {
	entering := &joiner{session: s, channel: channel, id: request.id, options: historyOptions(options),
		recover: request.recover, from: request.from, recoverMax: options.RecoverMax}
	target := p.streams.of(channel)
	target.mutex.Lock()
	// Counted before the subscription exists: a close racing with this join
	// (SessionClosed, between Subscribe and the listing below) then sees a joiner
	// and waits for the stripe lock in forgetJoins, instead of skipping the
	// stripes and leaving a closed connection's joiner listed until the channel's
	// next publication.
	p.streams.joiners.Add(1)
	err := p.subscribe(s, channel, options)
	if err == nil {
		target.joining[channel] = append(target.joining[channel], entering)
		entering.listed = true
	} else {
		p.streams.joiners.Add(-1)
	}
	target.mutex.Unlock()
	if err != nil {
		return err
	}
	if p.historyLocal {
		p.readAndAnswer(entering)
		return nil
	}
	// By connection, not by channel: joins need no order between connections, and
	// a reconnect storm of one channel's subscribers then spreads over every
	// worker instead of queueing on one (benchmarks/storm); one connection's joins
	// keep their order.
	id := s.ID()
	if !p.workers.submit(string(id[:]), func() { p.readAndAnswer(entering) }) {
		p.historyCounts.joinsRejected.Add(1)
		p.answer(entering, nil, history.Position{}, errQueueFull)
	}
	return nil
}

// readAndAnswer reads the stream for entering (step 2) and answers it (step 3).
func (p *Publisher) readAndAnswer(entering *joiner) {
	ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
	defer cancel()
	var err error
	if !p.historyLocal && p.channelReady != nil {
		err = p.channelReady(ctx, entering.channel)
	}
	var publications []history.Publication
	var top history.Position
	if err == nil {
		since, limit := uint64(0), 0
		if entering.recover {
			since, limit = entering.from.Offset, entering.recoverMax
		}
		publications, top, err = p.history.Read(ctx, entering.channel, since, limit, entering.options)
	}
	if err != nil {
		p.historyCounts.joinFailures.Add(1)
		p.logger.Debug("history read failed; subscribed without a position", "channel", entering.channel, "error", err.Error())
	}
	p.answer(entering, publications, top, err)
}

// answer sends entering its "subscribed", what it missed when the recovery is
// complete, and its buffer past that (step 3). err is the read's: the answer then
// has no position, and "recovered":false when asked.
func (p *Publisher) answer(entering *joiner, publications []history.Publication, top history.Position, err error) {
	target := p.streams.of(entering.channel)
	target.mutex.Lock()
	defer target.mutex.Unlock()
	if !entering.listed {
		return
	}
	answer := protocol.ChannelAnswer{Type: protocol.TypeSubscribed, Channel: entering.channel, ID: entering.id}
	recovered := false
	var sent history.Position
	if err == nil {
		answer.Position, sent = &top, top
		recovered = entering.recover && history.Recovered(entering.from, publications, top)
	}
	if entering.recover {
		answer.Recovered = &recovered
		p.historyCounts.countRecovery(recovered, len(publications))
	}
	s := entering.session
	s.Send(answer.Frame())
	if recovered {
		for _, missed := range publications {
			s.Send(protocol.TextFrame(protocol.PublicationPayloadAt(entering.channel, missed.Data, missed.Offset)))
		}
	}
	for _, live := range entering.buffer {
		if isSent(live.position, sent) {
			continue
		}
		s.Send(live.frame)
		if live.position.Offset != 0 {
			sent = live.position
		}
	}
	entering.buffer, entering.bytes = nil, 0
	entering.answered, entering.sent = true, sent
	if p.historyLocal || sent == (history.Position{}) {
		p.unlistLocked(target, entering)
	}
}

// isSent reports whether the publication at position is at or before sent, in the
// same epoch: a connection at sent has it already. A publication without an
// offset (the store was unreachable) never counts as sent.
func isSent(position, sent history.Position) bool {
	return position.Offset != 0 && position.Epoch == sent.Epoch && position.Offset <= sent.Offset
}

// divertLocked takes channel's joiners out of subscribers, the snapshot a
// publication's frame (at position) is about to be queued to, and handles them
// itself: a joiner not yet answered buffers it; an answered one (catching up, in
// a cluster) skips it if it was sent already, and otherwise is sent it and is
// live from then on. It returns the remaining subscribers and how many joiners
// were sent the frame. The caller holds target's mutex.
func (p *Publisher) divertLocked(target *stripe, channel string, subscribers []*session.Session, frame []byte,
	position history.Position, exclude *session.Session) ([]*session.Session, int) {
	joiners := target.joining[channel]
	subscribers = withoutJoiners(subscribers, joiners)
	sent := 0
	maxBuffered := p.hub.Config().MaxPendingBytes
	kept := joiners[:0]
	for _, entering := range joiners {
		s := entering.session
		switch {
		case !s.IsOpen():
			entering.listed = false
			p.streams.joiners.Add(-1)
		case s == exclude:
			kept = append(kept, entering)
		case !entering.answered:
			entering.buffer = append(entering.buffer, bufferedPublication{position: position, frame: frame})
			entering.bytes += len(frame)
			if entering.bytes > maxBuffered {
				p.historyCounts.bufferOverflows.Add(1)
				s.Close(session.ReasonSlowConsumer)
			}
			kept = append(kept, entering)
		case isSent(position, entering.sent):
			kept = append(kept, entering)
		default:
			if s.Send(frame) {
				sent++
			}
			entering.listed = false
			p.streams.joiners.Add(-1)
		}
	}
	clear(joiners[len(kept):])
	if len(kept) == 0 {
		delete(target.joining, channel)
	} else {
		target.joining[channel] = kept
	}
	return subscribers, sent
}

// withoutJoiners removes the joiners' sessions from subscribers, in place (the
// order of subscribers does not matter): by scanning for a few joiners, through
// a set for many, so a reconnect storm into a large channel stays linear.
func withoutJoiners(subscribers []*session.Session, joiners []*joiner) []*session.Session {
	if len(joiners) <= 8 {
		for _, entering := range joiners {
			for index, s := range subscribers {
				if s == entering.session {
					last := len(subscribers) - 1
					subscribers[index] = subscribers[last]
					subscribers[last] = nil
					subscribers = subscribers[:last]
					break
				}
			}
		}
		return subscribers
	}
	joining := make(map[*session.Session]struct{}, len(joiners))
	for _, entering := range joiners {
		joining[entering.session] = struct{}{}
	}
	kept := subscribers[:0]
	for _, s := range subscribers {
		if _, found := joining[s]; !found {
			kept = append(kept, s)
		}
	}
	clear(subscribers[len(kept):])
	return kept
}

// unlistLocked takes entering out of its stripe's list. The caller holds the
// stripe's mutex.
func (p *Publisher) unlistLocked(target *stripe, entering *joiner) {
	joiners := target.joining[entering.channel]
	for index, listed := range joiners {
		if listed == entering {
			last := len(joiners) - 1
			joiners[index] = joiners[last]
			joiners[last] = nil
			joiners = joiners[:last]
			break
		}
	}
	if len(joiners) == 0 {
		delete(target.joining, entering.channel)
	} else {
		target.joining[entering.channel] = joiners
	}
	entering.listed = false
	p.streams.joiners.Add(-1)
}

// leaveLocked forgets s's joiner of channel, if any: its answer, not sent yet, is
// then never sent. The caller holds target's mutex.
func (p *Publisher) leaveLocked(target *stripe, s *session.Session, channel string) {
	for _, entering := range target.joining[channel] {
		if entering.session == s {
			p.unlistLocked(target, entering)
			return
		}
	}
}

// leave removes s from channel, a history channel when options say so: the index
// and its joiner together, under the stripe lock, so that no publication of the
// channel reaches s after it left.
func (p *Publisher) leave(s *session.Session, channel string, options channels.NamespaceOptions) error {
	if !p.hasHistory(options) {
		return p.unsubscribeTracked(s, channel, options)
	}
	target := p.streams.of(channel)
	target.mutex.Lock()
	defer target.mutex.Unlock()
	p.leaveLocked(target, s, channel)
	return p.unsubscribeTracked(s, channel, options)
}

// forgetJoins drops the joiners of a closed session among channels, the channels
// it was subscribed to.
func (p *Publisher) forgetJoins(s *session.Session, channels []string) {
	if p.streams.joiners.Load() == 0 {
		return
	}
	for _, channel := range channels {
		if !p.hasHistory(p.namespaces.Lookup(channel)) {
			continue
		}
		target := p.streams.of(channel)
		target.mutex.Lock()
		p.leaveLocked(target, s, channel)
		target.mutex.Unlock()
	}
}
