package cluster

import (
	"context"
	"sync"

	"github.com/redis/rueidis"
)

// Client broadcasts are published from a queue rather than from the sending client's
// handler goroutine: the event loop's handler pool is small and must not wait for
// Redis. One goroutine takes everything queued and publishes it in one pipelined
// write, one PUBLISH per broadcast, in queue order, so one client's broadcasts keep
// their order. The queue is bounded in bytes; while Redis is down its broadcasts
// fail at once and are counted, so the queue does not grow.

// relayQueue holds encoded broadcast envelopes waiting to be published. Safe for
// concurrent use.
type relayQueue struct {
	mutex    sync.Mutex
	waiting  [][]byte
	bytes    int
	maxBytes int
	wake     chan struct{}
}

func (q *relayQueue) init(maxBytes int) {
	q.maxBytes = maxBytes
	q.wake = make(chan struct{}, 1)
}

// push queues an envelope; it reports false, leaving the queue as it was, when the
// envelope does not fit.
func (q *relayQueue) push(encoded []byte) bool {
	q.mutex.Lock()
	if q.bytes+len(encoded) > q.maxBytes {
		q.mutex.Unlock()
		return false
	}
	q.waiting = append(q.waiting, encoded)
	q.bytes += len(encoded)
	q.mutex.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take removes and returns everything queued.
func (q *relayQueue) take() [][]byte {
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
	if !n.relay.push(message.encode(make([]byte, 0, envelopeHeaderSize+lengthSize+len(payload)))) {
		n.counters.relayDropped.Add(1)
	}
}

// relayLoop publishes queued client broadcasts until Close.
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
			for index, encoded := range part {
				commands[index] = n.client.B().Publish().Channel(n.keys.broadcast).Message(rueidis.BinaryString(encoded)).Build()
			}
			ctx, cancel := n.call(context.Background())
			for _, result := range n.client.DoMulti(ctx, commands...) {
				n.countPublication(result.Error())
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
