package cluster

import (
	"context"
	"sync"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/session"
)

// Client broadcasts and client publications to channels are published from a queue
// rather than from the sending client's handler goroutine: the event loop's handler
// pool is small and must not wait for Redis. One goroutine takes everything queued
// and publishes it in one pipelined write, one PUBLISH per message, in queue order,
// so one client's messages keep their order. The queue is bounded in bytes; while
// Redis is down its messages fail at once and are counted, so the queue does not
// grow.

// relayed is one message waiting to be published: an encoded envelope and the
// Redis channel it goes to, or a publication to append to a history channel's
// stream (appended set).
type relayed struct {
	redisChannel string
	encoded      []byte
	appended     *relayedAppend
}

// relayedAppend is a client's publication to a history channel waiting for
// historyAppendScript.
type relayedAppend struct {
	channel string
	data    []byte
	options history.Options
	exclude session.ConnectionID
}

// relayQueue holds the messages waiting to be published. Safe for concurrent use.
type relayQueue struct {
	mutex    sync.Mutex
	waiting  []relayed
	bytes    int
	maxBytes int
	wake     chan struct{}
}

func (q *relayQueue) init(maxBytes int) {
	q.maxBytes = maxBytes
	q.wake = make(chan struct{}, 1)
}

// push queues an envelope for redisChannel, or a history append; it reports
// false, leaving the queue as it was, when the message and the channel's name do
// not fit.
func (q *relayQueue) push(message relayed) bool {
	size := len(message.redisChannel) + len(message.encoded)
	if message.appended != nil {
		size += len(message.appended.data) + envelopeHeaderSize + lengthSize + connectionIDSize
	}
	q.mutex.Lock()
	if q.bytes+size > q.maxBytes {
		q.mutex.Unlock()
		return false
	}
	q.waiting = append(q.waiting, message)
	q.bytes += size
	q.mutex.Unlock()
	signal(q.wake)
	return true
}

// take removes and returns everything queued.
func (q *relayQueue) take() []relayed {
	q.mutex.Lock()
	defer q.mutex.Unlock()
	taken := q.waiting
	q.waiting, q.bytes = nil, 0
	return taken
}

// RelayBroadcast implements delivery.Forwarder for a client's broadcast: it queues
// payload for publication on the broadcast channel and returns at once. A payload that does not fit in
// Config.MaxRelayBytes is dropped and counted in Counters.RelayDropped.
func (n *Node) RelayBroadcast(payload []byte) {
	message := envelope{kind: kindBroadcast, origin: n.tag, body: payload}
	encoded := message.encode(make([]byte, 0, envelopeHeaderSize+lengthSize+len(payload)))
	if !n.relay.push(relayed{redisChannel: n.keys.broadcast, encoded: encoded}) {
		n.counters.relayDropped.Add(1)
	}
}

// RelayToChannel implements delivery.Forwarder for a client's publication to
// channel: it queues payload for publication on the channel's Redis channel and
// returns at once. A publication that does not fit in Config.MaxRelayBytes is
// dropped and counted in Counters.ChannelRelayDropped.
func (n *Node) RelayToChannel(channel string, payload []byte) {
	message := envelope{kind: kindChannel, origin: n.tag, channel: channel, body: payload}
	encoded := message.encode(make([]byte, 0, envelopeHeaderSize+lengthSize+len(channel)+len(payload)))
	if !n.relay.push(relayed{redisChannel: n.keys.channel(channel), encoded: encoded}) {
		n.counters.channelRelayDropped.Add(1)
	}
}

// RelayAppend is History.Append for a client's publication to a history channel:
// it queues the append and returns at once, without waiting for Redis (it runs on
// the client's handler goroutine). Every node, this one included, delivers the
// publication from Redis (HistoryReceiver), except to exclude, the publishing
// connection (zero: none). When Redis cannot take it (unreachable, too slow) or it
// does not fit in Config.MaxRelayBytes (counted in ChannelRelayDropped), it is
// delivered to this node's subscribers only, without an offset, and counted in
// HistoryLocal; a too slow Redis may still have run it, and then this node's
// subscribers receive it twice, with and without an offset. data is never modified
// afterwards, so it may be kept.
func (n *Node) RelayAppend(channel string, data []byte, options history.Options, exclude session.ConnectionID) {
	message := relayed{redisChannel: n.keys.channel(channel),
		appended: &relayedAppend{channel: channel, data: data, options: options, exclude: exclude}}
	if options.Size <= 0 || options.TTL <= 0 {
		n.logger.Error("history publication without a size or TTL; delivered on this node only", "channel", channel)
		n.deliverUnappended(message.appended)
		return
	}
	if !n.relay.push(message) {
		n.counters.channelRelayDropped.Add(1)
		n.deliverUnappended(message.appended)
	}
}

// deliverUnappended delivers a client's publication that Redis did not take to
// this node's subscribers, without an offset.
func (n *Node) deliverUnappended(appended *relayedAppend) {
	n.counters.historyLocal.Add(1)
	if n.historyReceiver != nil {
		n.historyReceiver.PublishToChannelLocalAt(appended.channel, appended.data, history.Position{}, appended.exclude)
	}
}

// relayLoop publishes queued client broadcasts and publications, and appends
// queued history publications, until Close: in queue order, a run of messages of
// one sort (publications or appends) per pipelined write.
func (n *Node) relayLoop() {
	defer n.workers.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.relay.wake:
		}
		waiting := n.relay.take()
		if !n.available() {
			n.failRelayed(waiting)
			continue
		}
		for start := 0; start < len(waiting); {
			appending := waiting[start].appended != nil
			end := start + 1
			for end < len(waiting) && end-start < pipelineBatch && (waiting[end].appended != nil) == appending {
				end++
			}
			if appending {
				n.appendRelayed(waiting[start:end])
			} else {
				n.publishRelayed(waiting[start:end])
			}
			start = end
		}
	}
}

// failRelayed counts queued messages that cannot reach Redis, delivering the
// history publications among them on this node.
func (n *Node) failRelayed(waiting []relayed) {
	n.counters.publishFailures.Add(uint64(len(waiting)))
	for _, message := range waiting {
		if message.appended != nil {
			n.deliverUnappended(message.appended)
		}
	}
}

// publishRelayed publishes queued envelopes in one pipelined write.
func (n *Node) publishRelayed(part []relayed) {
	commands := make(rueidis.Commands, len(part))
	for index, message := range part {
		commands[index] = n.client.B().Publish().Channel(message.redisChannel).Message(rueidis.BinaryString(message.encoded)).Build()
	}
	ctx, cancel := n.call(context.Background())
	defer cancel()
	for index, result := range n.client.DoMulti(ctx, commands...) {
		n.countPublication(result.Error())
		if result.Error() == nil && part[index].redisChannel != n.keys.broadcast {
			n.counters.channelPublished.Add(1)
		}
	}
}

// appendRelayed runs historyAppendScript for queued history publications in one
// pipelined write (after a SCRIPT LOAD, which rueidis sends with every batch).
func (n *Node) appendRelayed(part []relayed) {
	executions := make([]rueidis.LuaExec, len(part))
	for index, message := range part {
		appended := message.appended
		executions[index] = rueidis.LuaExec{Keys: n.keys.history(appended.channel),
			Args: n.history.appendArguments(appended.channel, appended.data, appended.options, appended.exclude)}
	}
	ctx, cancel := n.call(context.Background())
	defer cancel()
	for index, result := range historyAppendScript.ExecMulti(ctx, n.client, executions...) {
		err := result.Error()
		n.countPublication(err)
		if err != nil {
			n.deliverUnappended(part[index].appended)
			continue
		}
		n.counters.channelPublished.Add(1)
		n.counters.historyAppended.Add(1)
	}
}

// countPublication counts one publication's outcome and reports Redis's state.
func (n *Node) countPublication(err error) {
	n.observe(err)
	if err != nil {
		n.counters.publishFailures.Add(1)
		return
	}
	n.counters.published.Add(1)
}
