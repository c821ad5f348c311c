package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"
)

// The subscription connections. Every channel a node receives is a shard channel
// (SSUBSCRIBE). On one Redis a single connection holds them all. On a Redis Cluster
// a shard channel can only be subscribed on the master that owns its slot, so the
// node holds one connection per master that owns one of its channels, and sends each
// master one SSUBSCRIBE per slot (Redis refuses channels of several slots in one).
// A connection that breaks takes only its own channels down: they are subscribed
// again (on whichever master owns them then) while the others keep receiving.

// slotCount is the number of Redis Cluster hash slots.
const slotCount = 16384

// shard is one subscription connection, to one Redis or one cluster master.
type shard struct {
	address   string
	dedicated rueidis.DedicatedClient
	// channels holds the Redis channels subscribed on this connection; only the
	// subscription goroutine uses it.
	channels map[string]struct{}
	// leavingMutex guards leaving, the channels whose SUNSUBSCRIBE was sent and not
	// yet confirmed: any other sunsubscribe comes from Redis itself (the slot moved
	// to another master) and ends the connection.
	leavingMutex sync.Mutex
	leaving      map[string]struct{}
	// moved signals such an unrequested sunsubscribe; done is closed when the
	// connection is dropped; closed is set then, so that late events are ignored.
	moved  chan struct{}
	done   chan struct{}
	closed atomic.Bool
}

// shardLoss reports that a shard's connection broke (err) or lost a slot.
type shardLoss struct {
	shard *shard
	err   error
}

// subscriptions is the subscription goroutine's set of connections. Only that
// goroutine uses it, apart from the connections' hooks and forwarders, which read
// what is stated per field.
type subscriptions struct {
	node    *Node
	sharded bool
	shards  map[string]*shard
	// where maps each subscribed Redis channel to its connection.
	where map[string]*shard
	// owners maps a slot to its master's address under Redis Cluster; nil until
	// loaded, and after a sign that it changed.
	owners []string
	// pending holds the Redis channels wanted and not subscribed.
	pending map[string]struct{}
	// inboxUp and broadcastUp are set by the hooks when Redis confirmed the
	// node's own channels.
	inboxUp, broadcastUp atomic.Bool
	losses               chan shardLoss
	forwarders           sync.WaitGroup
}

func (n *Node) newSubscriptions() *subscriptions {
	s := &subscriptions{
		node:    n,
		sharded: n.sharded,
		shards:  make(map[string]*shard),
		where:   make(map[string]*shard),
		pending: map[string]struct{}{n.keys.broadcast: {}, n.keys.inbox: {}},
		losses:  make(chan shardLoss),
	}
	return s
}

// want marks wsgate channels to subscribe; unwant unsubscribes them (a pending one is
// only forgotten). A failed SUNSUBSCRIBE drops its connection.
func (s *subscriptions) want(channels []string) {
	for _, channel := range channels {
		s.pending[s.node.keys.channel(channel)] = struct{}{}
	}
}

func (s *subscriptions) unwant(channels []string) {
	byShard := make(map[*shard][]string)
	for _, channel := range channels {
		redisChannel := s.node.keys.channel(channel)
		delete(s.pending, redisChannel)
		if owner := s.where[redisChannel]; owner != nil {
			byShard[owner] = append(byShard[owner], redisChannel)
		}
	}
	for owner, redisChannels := range byShard {
		owner.leavingMutex.Lock()
		for _, redisChannel := range redisChannels {
			owner.leaving[redisChannel] = struct{}{}
		}
		owner.leavingMutex.Unlock()
		for _, redisChannel := range redisChannels {
			delete(owner.channels, redisChannel)
			delete(s.where, redisChannel)
		}
		err := s.send(owner, redisChannels, func(builder rueidis.Builder, part []string) rueidis.Completed {
			return builder.Sunsubscribe().Channel(part...).Build()
		})
		if err != nil {
			s.drop(owner, err)
		}
	}
}

// sync subscribes the pending channels, opening connections as needed. It returns
// the first error; the channels it could not subscribe stay pending.
func (s *subscriptions) sync() error {
	if len(s.pending) == 0 {
		return nil
	}
	if s.sharded && s.owners == nil {
		owners, err := s.loadOwners()
		if err != nil {
			return err
		}
		s.owners = owners
	}
	byAddress := make(map[string][]string)
	for redisChannel := range s.pending {
		address := ""
		if s.sharded {
			address = s.owners[slotOf(redisChannel)]
		}
		byAddress[address] = append(byAddress[address], redisChannel)
	}
	var failure error
	for address, redisChannels := range byAddress {
		owner, err := s.connect(address)
		if err == nil {
			err = s.send(owner, redisChannels, func(builder rueidis.Builder, part []string) rueidis.Completed {
				return builder.Ssubscribe().Channel(part...).Build()
			})
			if err != nil {
				// The caller records the error.
				s.drop(owner, nil)
			}
		}
		if err != nil {
			failure = errors.Join(failure, err)
			continue
		}
		for _, redisChannel := range redisChannels {
			delete(s.pending, redisChannel)
			owner.channels[redisChannel] = struct{}{}
			s.where[redisChannel] = owner
		}
	}
	if failure != nil && s.sharded {
		// A master may have failed over or handed slots on: ask again next time.
		s.owners = nil
	}
	return failure
}

// send sends one command built by build per group of redisChannels on owner's
// connection, in one pipelined write: up to channelBatchSize channels per command
// on one Redis, one slot's channels per command on a cluster.
func (s *subscriptions) send(owner *shard, redisChannels []string, build func(rueidis.Builder, []string) rueidis.Completed) error {
	var groups [][]string
	if s.sharded {
		bySlot := make(map[uint16][]string)
		for _, redisChannel := range redisChannels {
			slot := slotOf(redisChannel)
			bySlot[slot] = append(bySlot[slot], redisChannel)
		}
		for _, group := range bySlot {
			for start := 0; start < len(group); start += channelBatchSize {
				groups = append(groups, group[start:min(start+channelBatchSize, len(group))])
			}
		}
	} else {
		for start := 0; start < len(redisChannels); start += channelBatchSize {
			groups = append(groups, redisChannels[start:min(start+channelBatchSize, len(redisChannels))])
		}
	}
	commands := make(rueidis.Commands, len(groups))
	for index, group := range groups {
		commands[index] = build(owner.dedicated.B(), group)
	}
	ctx, cancel := s.node.call(context.Background())
	defer cancel()
	var failure error
	for _, result := range owner.dedicated.DoMulti(ctx, commands...) {
		s.node.counters.channelBatches.Add(1)
		failure = errors.Join(failure, result.Error())
	}
	if failure != nil {
		s.node.logger.Warn("channel subscription change failed; subscribing again", "error", failure.Error())
	}
	return failure
}

// connect returns the connection to address ("" for the one Redis), opening it.
func (s *subscriptions) connect(address string) (*shard, error) {
	if owner := s.shards[address]; owner != nil {
		return owner, nil
	}
	n := s.node
	var dedicated rueidis.DedicatedClient
	if s.sharded {
		master := n.client.Nodes()[address]
		if master == nil {
			return nil, fmt.Errorf("no connection to the cluster master at %s yet", address)
		}
		dedicated, _ = master.Dedicate()
	} else {
		dedicated, _ = n.client.Dedicate()
	}
	owner := &shard{address: address, dedicated: dedicated, channels: make(map[string]struct{}),
		leaving: make(map[string]struct{}), moved: make(chan struct{}, 1), done: make(chan struct{})}
	lost := dedicated.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: n.receive,
		OnSubscription: func(event rueidis.PubSubSubscription) {
			s.confirm(owner, event)
		},
	})
	s.shards[address] = owner
	s.forwarders.Add(1)
	go s.forward(owner, lost)
	return owner, nil
}

// forward reports owner's loss to the subscription goroutine, until it is dropped.
func (s *subscriptions) forward(owner *shard, lost <-chan error) {
	defer s.forwarders.Done()
	var loss shardLoss
	select {
	case <-owner.done:
		return
	case err := <-lost:
		loss = shardLoss{shard: owner, err: err}
	case <-owner.moved:
		loss = shardLoss{shard: owner, err: errors.New("a slot of this master moved")}
	}
	select {
	case s.losses <- loss:
	case <-owner.done:
	}
}

// confirm handles Redis's confirmation of a subscribe or an unsubscribe on owner.
func (s *subscriptions) confirm(owner *shard, event rueidis.PubSubSubscription) {
	if owner.closed.Load() {
		return
	}
	n := s.node
	subscribed := event.Kind == "ssubscribe"
	if !subscribed {
		owner.leavingMutex.Lock()
		_, requested := owner.leaving[event.Channel]
		delete(owner.leaving, event.Channel)
		owner.leavingMutex.Unlock()
		if !requested {
			signal(owner.moved)
			return
		}
	}
	switch event.Channel {
	case n.keys.inbox:
		s.inboxUp.Store(subscribed)
	case n.keys.broadcast:
		s.broadcastUp.Store(subscribed)
	default:
		if channel, ok := n.keys.channelOf(event.Channel); ok {
			n.interest.confirm(channel, subscribed)
		}
		return
	}
	if s.inboxUp.Load() && s.broadcastUp.Load() && !n.subscribed.Swap(true) {
		n.logger.Info("subscribed to the cluster's channels", "broadcast", n.keys.broadcast, "inbox", n.keys.inbox)
		n.requestRenewal()
	}
}

// drop closes owner's connection after err and makes its channels pending again.
func (s *subscriptions) drop(owner *shard, err error) {
	if owner.closed.Swap(true) {
		return
	}
	close(owner.done)
	owner.dedicated.Close()
	delete(s.shards, owner.address)
	n := s.node
	for redisChannel := range owner.channels {
		delete(s.where, redisChannel)
		s.pending[redisChannel] = struct{}{}
		switch redisChannel {
		case n.keys.inbox:
			s.inboxUp.Store(false)
		case n.keys.broadcast:
			s.broadcastUp.Store(false)
		default:
			if channel, ok := n.keys.channelOf(redisChannel); ok {
				n.interest.confirm(channel, false)
			}
		}
	}
	if n.subscribed.Load() && !(s.inboxUp.Load() && s.broadcastUp.Load()) {
		n.subscribed.Store(false)
		n.counters.subscriptionLosses.Add(1)
		n.logger.Warn("cluster subscription lost; messages from other nodes are missed until it is back")
	} else if len(owner.channels) > 0 {
		n.counters.subscriptionLosses.Add(1)
		n.logger.Warn("a channel subscription connection was lost; subscribing its channels again",
			"master", owner.address, "channels", len(owner.channels))
	}
	if s.sharded {
		s.owners = nil
	}
	if err != nil {
		n.observe(err)
	}
	if s.sharded && len(owner.channels) > 0 {
		// The master may come back empty: see observe.
		n.rewriteAll.Store(true)
	}
}

// close drops every connection and waits for their forwarders.
func (s *subscriptions) close() {
	for _, owner := range s.shards {
		s.drop(owner, nil)
	}
	s.forwarders.Wait()
	s.node.subscribed.Store(false)
}

// loadOwners reads which master owns each slot (CLUSTER SLOTS).
func (s *subscriptions) loadOwners() ([]string, error) {
	n := s.node
	ctx, cancel := n.call(context.Background())
	defer cancel()
	ranges, err := n.client.Do(ctx, n.client.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		return nil, err
	}
	owners := make([]string, slotCount)
	for _, entry := range ranges {
		fields, err := entry.ToArray()
		if err != nil || len(fields) < 3 {
			return nil, errMalformed
		}
		first, errFirst := fields[0].AsInt64()
		last, errLast := fields[1].AsInt64()
		master, errMaster := fields[2].ToArray()
		if errFirst != nil || errLast != nil || errMaster != nil || len(master) < 2 || first < 0 || last >= slotCount {
			return nil, errMalformed
		}
		host, errHost := master[0].ToString()
		port, errPort := master[1].AsInt64()
		if errHost != nil || errPort != nil {
			return nil, errMalformed
		}
		address := net.JoinHostPort(host, strconv.FormatInt(port, 10))
		for slot := first; slot <= last; slot++ {
			owners[slot] = address
		}
	}
	return owners, nil
}

// slotOf returns the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag, the
// text between the first "{" and the next "}" when that is not empty, else of the
// whole key, modulo 16384.
func slotOf(key string) uint16 {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if length := strings.IndexByte(key[open+1:], '}'); length > 0 {
			key = key[open+1 : open+1+length]
		}
	}
	var crc uint16
	for index := 0; index < len(key); index++ {
		crc ^= uint16(key[index]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % slotCount
}
