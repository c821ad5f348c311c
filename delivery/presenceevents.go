package delivery

import (
	"sync"
	"time"

	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
)

// Join and leave events (namespaces with join_leave), coalesced under churn.
//
// Events are queued in the order they happen (a channel's changes are queued
// under the registry's lock, so one user's join and leave never swap) and one
// goroutine, started with the first event, sends them. Per channel it counts the
// events of fixed one-second windows: while a window holds at most
// Config.JoinLeaveRate of them, each is sent as it comes, as "join" or "leave",
// encoded once for all subscribers. The first event over the rate puts the channel
// in coalescing mode: its events are then gathered, a user's join and leave
// cancelling out, and sent every Config.PresenceDiffPeriod as one "presence_diff"
// (only the counts when more than Config.PresenceDiffMaxUsers users changed). A
// period with at most JoinLeaveRate × period events ends the mode.
//
// So a subscriber receives, per channel, in any one second at most
// 2 × JoinLeaveRate join and leave messages (one second overlaps at most two
// windows) and 1/PresenceDiffPeriod + 1 presence_diff messages: 42 with the
// defaults, however many users join; a storm of 10,000 joins in one second costs
// each subscriber at most 20 joins and a diff or two.

// Defaults of the coalescing settings of Config.
const (
	DefaultJoinLeaveRate        = 20
	DefaultPresenceDiffPeriod   = time.Second
	DefaultPresenceDiffMaxUsers = 100
)

// presenceEvent is one user's join (joined) or leave of one channel.
type presenceEvent struct {
	channel, user string
	joined        bool
}

// presenceEvents queues and sends join and leave events; see above.
type presenceEvents struct {
	rate     int
	period   time.Duration
	maxUsers int
	// send delivers one message's payload to a channel's subscribers.
	send func(channel string, payload []byte)

	mutex   sync.Mutex
	queue   []presenceEvent
	started bool
	closed  bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// channelEvents is the coalescing state of one channel; owned by the goroutine.
type channelEvents struct {
	windowStart time.Time
	inWindow    int
	coalescing  bool
	inPeriod    int
	// changes holds the users whose presence changed during this period while
	// coalescing: true joined, false left.
	changes map[string]bool
}

func newPresenceEvents(rate int, period time.Duration, maxUsers int, send func(string, []byte)) *presenceEvents {
	return &presenceEvents{rate: rate, period: period, maxUsers: maxUsers, send: send,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues events and returns at once; safe for concurrent use. After close it
// drops them.
func (e *presenceEvents) add(events ...presenceEvent) {
	e.mutex.Lock()
	if e.closed {
		e.mutex.Unlock()
		return
	}
	e.queue = append(e.queue, events...)
	if !e.started {
		e.started = true
		go e.run()
	}
	e.mutex.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// close stops the goroutine, if it started, dropping what is queued.
func (e *presenceEvents) close() {
	e.mutex.Lock()
	started := e.started
	e.closed = true
	e.mutex.Unlock()
	if started {
		close(e.stop)
		<-e.done
	}
}

// run sends the queued events and the diffs until close.
func (e *presenceEvents) run() {
	defer close(e.done)
	states := make(map[string]*channelEvents)
	ticker := time.NewTicker(e.period)
	defer ticker.Stop()
	var batch []presenceEvent
	for {
		select {
		case <-e.stop:
			return
		case <-e.wake:
			e.mutex.Lock()
			batch, e.queue = e.queue, batch[:0]
			e.mutex.Unlock()
			now := time.Now()
			for _, event := range batch {
				e.handle(states, event, now)
			}
			clear(batch)
		case now := <-ticker.C:
			e.tick(states, now)
		}
	}
}

// handle sends event now, or gathers it into its channel's diff.
func (e *presenceEvents) handle(states map[string]*channelEvents, event presenceEvent, now time.Time) {
	state := states[event.channel]
	if state == nil {
		state = &channelEvents{windowStart: now}
		states[event.channel] = state
	}
	if now.Sub(state.windowStart) >= time.Second {
		state.windowStart, state.inWindow = now, 0
	}
	state.inWindow++
	state.inPeriod++
	if !state.coalescing && state.inWindow <= e.rate {
		messageType := protocol.TypeLeave
		if event.joined {
			messageType = protocol.TypeJoin
		}
		e.send(event.channel, protocol.JoinLeavePayload(messageType, event.channel, event.user))
		return
	}
	if !state.coalescing {
		state.coalescing, state.inPeriod = true, 1
		state.changes = make(map[string]bool)
	}
	if joined, found := state.changes[event.user]; found && joined != event.joined {
		delete(state.changes, event.user)
		return
	}
	state.changes[event.user] = event.joined
}

// tick sends each coalescing channel's diff, ends the coalescing of the channels
// that calmed down, and forgets the idle ones.
func (e *presenceEvents) tick(states map[string]*channelEvents, now time.Time) {
	quiet := int(float64(e.rate) * e.period.Seconds())
	for channel, state := range states {
		if state.coalescing {
			if len(state.changes) > 0 {
				e.send(channel, e.diffPayload(channel, state.changes))
				clear(state.changes)
			}
			if state.inPeriod <= quiet {
				state.coalescing, state.changes = false, nil
			}
			state.inPeriod = 0
			continue
		}
		if now.Sub(state.windowStart) >= time.Second {
			delete(states, channel)
		}
	}
}

// diffPayload encodes one period's changes: the users, or only their counts above
// maxUsers.
func (e *presenceEvents) diffPayload(channel string, changes map[string]bool) []byte {
	if len(changes) > e.maxUsers {
		joins := 0
		for _, joined := range changes {
			if joined {
				joins++
			}
		}
		return protocol.PresenceDiffCountsPayload(channel, joins, len(changes)-joins)
	}
	joins, leaves := []string{}, []string{}
	for user, joined := range changes {
		if joined {
			joins = append(joins, user)
		} else {
			leaves = append(leaves, user)
		}
	}
	return protocol.PresenceDiffPayload(channel, joins, leaves)
}

// sendPresenceEvent delivers payload, a join, leave or presence_diff message, to
// channel's subscribers on this node, encoded once (a history channel's joiners get
// it after their "subscribed", like a publication without an offset), and in a
// cluster to the other nodes' through the channel's path.
func (p *Publisher) sendPresenceEvent(channel string, payload []byte) {
	p.presenceCounts.eventsSent.Add(1)
	if p.hasHistory(p.namespaces.Lookup(channel)) {
		p.deliverHistory(channel, payload, history.Position{}, nil)
	} else {
		p.publishLocal(channel, payload, nil)
	}
	if p.forwarder != nil {
		p.forwarder.RelayToChannel(channel, payload)
	}
}
