package cluster

import (
	"context"
	"sync"

	"github.com/redis/rueidis"
)

// Client broadcasts and client publications to channels are published from a queue
// rather than from the sending client's handler goroutine: the event loop's handler
// pool is small and must not wait for Redis. One goroutine takes everything queued
// and publishes it in one pipelined write, one SPUBLISH per message, in queue order,
// so one client's messages keep their order (on a Redis Cluster: per Redis channel,
// each shard receiving its part in order). The queue is bounded in bytes; while
// Redis is down its messages fail at once and are counted, so the queue does not
// grow.

// relayed is one message waiting to be published: an encoded envelope and the
// Redis channel it goes to.
type relayed struct {
	redisChannel string
	encoded      []byte
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

// push queues an envelope for redisChannel; it reports false, leaving the queue as
// it was, when the envelope and the channel's name do not fit.
func (q *relayQueue) push(redisChannel string, encoded []byte) bool {
	size := len(redisChannel) + len(encoded)
	q.mutex.Lock()
	if q.bytes+size > q.maxBytes {
		q.mutex.Unlock()
		return false
	}
	q.waiting = append(q.waiting, relayed{redisChannel: redisChannel, encoded: encoded})
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
	if !n.relay.push(n.keys.broadcast, message.encode(make([]byte, 0, envelopeHeaderSize+lengthSize+len(payload)))) {
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
	if !n.relay.push(n.keys.channel(channel), encoded) {
		n.counters.channelRelayDropped.Add(1)
	}
}

// relayLoop publishes queued client broadcasts and publications until Close.
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
			n.counters.publishFailures.Add(uint64(len(waiting)))
			continue
		}
		for start := 0; start < len(waiting); start += pipelineBatch {
			part := waiting[start:min(start+pipelineBatch, len(waiting))]
			commands := make(rueidis.Commands, len(part))
			for index, message := range part {
				commands[index] = n.client.B().Spublish().Channel(message.redisChannel).Message(rueidis.BinaryString(message.encoded)).Build()
			}
			ctx, cancel := n.call(context.Background())
			for index, result := range n.client.DoMulti(ctx, commands...) {
				n.countPublication(result.Error())
				if result.Error() == nil && part[index].redisChannel != n.keys.broadcast {
					n.counters.channelPublished.Add(1)
				}
			}
			cancel()
		}
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
