package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/wsgate/wsgate/channels"
)

// Cluster-wide channel counts, by scatter-gather over the cluster's channels. Redis
// knows which nodes subscribe to a channel, not how many subscribers each has, so
// the asking node publishes a channel query envelope on the broadcast channel; every
// other node answers from its own channel index on a worker (never the subscription
// goroutine, which only queues the query) with a reply envelope published to the
// asking node's inbox, to:<tag>. The asking node's subscription goroutine hands each
// reply to the waiting query, which stops when every live node answered (the live
// nodes come from the leases, as Totals counts them), when every node that received
// the query answered, or after Config.Timeout. The cost is one round trip for the
// live nodes, one SPUBLISH, and per node O(its answer), never a scan of connections.

// Bounds of the answering side: queryQueueSize queries wait for queryWorkers
// goroutines; a query arriving when the queue is full is dropped and counted
// (Counters.QueriesDropped), and its asker reports this node missing.
const (
	queryQueueSize = 64
	queryWorkers   = 2
)

// queryReply is the JSON body of a reply envelope: a node's own counts.
type queryReply struct {
	Channels  []channels.ChannelCounts `json:"channels"`
	Truncated bool                     `json:"truncated,omitempty"`
}

// queries holds the asking side's queries waiting for replies. Safe for concurrent
// use; the mutex is never held during I/O.
type queries struct {
	mutex   sync.Mutex
	last    uint64
	waiting map[uint64]chan []byte
	// incoming holds the queries of other nodes waiting for a worker.
	incoming chan envelope
}

func (q *queries) init() {
	q.waiting = make(map[uint64]chan []byte)
	q.incoming = make(chan envelope, queryQueueSize)
}

// open registers a new query expecting up to expected replies and returns its id
// and the channel its replies arrive on.
func (q *queries) open(expected int) (uint64, chan []byte) {
	replies := make(chan []byte, expected)
	q.mutex.Lock()
	defer q.mutex.Unlock()
	q.last++
	q.waiting[q.last] = replies
	return q.last, replies
}

// close forgets query id; later replies to it are dropped.
func (q *queries) close(id uint64) {
	q.mutex.Lock()
	delete(q.waiting, id)
	q.mutex.Unlock()
}

// deliver hands a reply to its waiting query without blocking: the channel holds
// a reply from every expected node, and a reply beyond that (or to a query that
// ended) is dropped.
func (q *queries) deliver(id uint64, body []byte) {
	q.mutex.Lock()
	replies := q.waiting[id]
	q.mutex.Unlock()
	if replies == nil {
		return
	}
	select {
	case replies <- body:
	default:
	}
}

// ChannelCounts returns channel's subscriber and user counts summed over the live
// nodes that answered within Config.Timeout (and ctx). Users are summed per node: a
// user with connections on several nodes counts once per node, so the figure is an
// upper bound of the distinct users. It fails with ErrUnavailable when Redis cannot
// be reached; the caller then has this node's counts alone.
func (n *Node) ChannelCounts(ctx context.Context, channel string) (channels.MergedCounts, error) {
	local, _ := n.receiver.ChannelCounts(channel)
	answer, err := n.askChannels(ctx, envelope{kind: kindChannelQuery, channel: channel}, []channels.ChannelCounts{local})
	if err != nil {
		return answer, err
	}
	if len(answer.Channels) == 0 {
		answer.Channels = []channels.ChannelCounts{{Channel: channel}}
	}
	return answer, nil
}

// TopChannels lists up to limit channels whose names start with prefix, by
// subscribers summed over the live nodes that answered within Config.Timeout (and
// ctx), most first. Each node reports its own top limit, so a channel that is below
// the top limit on every node may be missing although its sum would rank; Truncated
// is set when any node had more matching channels or the merged list exceeded limit.
// Users are summed per node, as in ChannelCounts.
func (n *Node) TopChannels(ctx context.Context, prefix string, limit int) (channels.MergedCounts, error) {
	local, truncated := n.receiver.TopChannels(prefix, limit)
	answer, err := n.askChannels(ctx, envelope{kind: kindChannelQuery, channel: prefix, limit: uint32(limit)}, local)
	if err != nil {
		return answer, err
	}
	answer.Truncated = answer.Truncated || truncated || len(answer.Channels) > limit
	answer.Channels = answer.Channels[:min(limit, len(answer.Channels))]
	return answer, nil
}

// askChannels publishes query to the other nodes, waits for their replies and
// merges them with local, this node's answer: counts summed per channel, sorted by
// subscribers (then name), channels without subscribers left out.
func (n *Node) askChannels(ctx context.Context, query envelope, local []channels.ChannelCounts) (channels.MergedCounts, error) {
	live, _, _, err := n.Totals(ctx)
	if err != nil {
		return channels.MergedCounts{}, err
	}
	expected := live - 1
	id, replies := n.queries.open(expected)
	defer n.queries.close(id)
	query.query = id
	ctx, cancel := context.WithTimeout(ctx, n.config.Timeout)
	defer cancel()
	receivers, err := n.publish(ctx, n.keys.broadcast, query)
	if err != nil {
		return channels.MergedCounts{}, err
	}
	// The node's own subscription receives the query too, and skips it. Only nodes
	// that received the query can answer: waiting for the others is pointless. The
	// answers come to this node's inbox, so while its subscription is down none can
	// arrive: it answers at once with the others missing instead of waiting out the
	// timeout.
	switch {
	case !n.subscribed.Load():
		receivers = 0
	case receivers > 0:
		receivers--
	}
	answer := channels.MergedCounts{Nodes: 1}
	merged := make(map[string]channels.ChannelCounts, len(local))
	add := func(counts []channels.ChannelCounts) {
		for _, entry := range counts {
			sum := merged[entry.Channel]
			sum.Channel = entry.Channel
			sum.Subscribers += entry.Subscribers
			sum.Users += entry.Users
			merged[entry.Channel] = sum
		}
	}
	add(local)
	for answered := 0; answered < min(expected, receivers); answered++ {
		var body []byte
		select {
		case body = <-replies:
		case <-ctx.Done():
		}
		if body == nil {
			break
		}
		var reply queryReply
		if json.Unmarshal(body, &reply) != nil {
			n.counters.malformed.Add(1)
			continue
		}
		answer.Nodes++
		answer.Truncated = answer.Truncated || reply.Truncated
		add(reply.Channels)
	}
	answer.Missing = max(0, live-answer.Nodes)
	for _, counts := range merged {
		if counts.Subscribers > 0 {
			answer.Channels = append(answer.Channels, counts)
		}
	}
	slices.SortFunc(answer.Channels, func(left, right channels.ChannelCounts) int {
		if left.Subscribers != right.Subscribers {
			return right.Subscribers - left.Subscribers
		}
		return strings.Compare(left.Channel, right.Channel)
	})
	return answer, nil
}

// receiveQuery queues another node's channel query for a worker; it never blocks
// the subscription goroutine. A full queue drops the query.
func (n *Node) receiveQuery(query envelope) {
	query.channel = strings.Clone(query.channel)
	select {
	case n.queries.incoming <- query:
	default:
		n.counters.queriesDropped.Add(1)
	}
}

// answerLoop is a query worker: it answers queued queries from this node's channel
// index until Close.
func (n *Node) answerLoop() {
	defer n.workers.Done()
	for {
		select {
		case <-n.stop:
			return
		case query := <-n.queries.incoming:
			n.answer(query)
		}
	}
}

// answer computes this node's reply to query and publishes it to the asking node's
// inbox. A failed publish is counted like any other; the asker reports this node
// missing.
func (n *Node) answer(query envelope) {
	var reply queryReply
	if query.limit == 0 {
		if counts, found := n.receiver.ChannelCounts(query.channel); found {
			reply.Channels = []channels.ChannelCounts{counts}
		}
	} else {
		reply.Channels, reply.Truncated = n.receiver.TopChannels(query.channel, int(query.limit))
	}
	body, err := json.Marshal(reply)
	if err != nil {
		n.logger.Error("cannot encode a channel query's reply", "error", err.Error())
		return
	}
	_, err = n.publish(context.Background(), inboxChannel(n.keys.prefix, query.origin),
		envelope{kind: kindQueryReply, query: query.query, body: body})
	if err != nil && !errors.Is(err, errOutage) {
		n.logger.Debug("channel query reply failed", "error", err.Error())
	}
}
