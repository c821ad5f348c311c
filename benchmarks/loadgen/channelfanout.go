package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// channelFanoutName is the one channel of the channel-fanout scenario.
const channelFanoutName = "fanout-0"

// channelFanout is fanout with a channel: every connection subscribes to one
// channel, and each of -broadcasts publications to it is posted to
// POST /api/v1/channels/{channel}/publish, awaited on every connection and followed
// by a -gap pause. Beside fanout with -trigger api in the same invocation, the ratio
// is the cost of the channel over the broadcast.
func (b *bench) channelFanout() (*result.Fanout, error) {
	open := b.ensureConnections()
	if open == 0 {
		return nil, errors.New("no open connection")
	}
	subscriptions := b.subscribe("fanout-", 1, 1)
	if subscriptions.Confirmed < open {
		return nil, fmt.Errorf("%d of %d connections subscribed, %d refused", subscriptions.Confirmed, open, subscriptions.Refused)
	}
	publisher := b.channelPublisher()
	frameBytes := len(publicationFrame(channelFanoutName, broadcastContent(phaseChannelFanout, 0, time.Now().UnixNano(), b.options.payload)))
	return b.fanoutRounds(phaseChannelFanout, open, frameBytes, func(content []byte) error {
		queued, err := publisher.publish(channelFanoutName, content)
		if err == nil && queued != open {
			err = fmt.Errorf("queued for %d subscribers, want %d", queued, open)
		}
		return err
	})
}

// channelPublisher returns the publisher, making it on first use.
func (b *bench) channelPublisher() *publisher {
	if b.publisher == nil {
		b.publisher = newPublisher(b.options.base)
	}
	return b.publisher
}
