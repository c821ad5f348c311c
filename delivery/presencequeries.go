package delivery

import (
	"context"
	"errors"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// A client's presence queries ("presence" and "presence_stats", docs/protocol.md):
// for a channel it is subscribed to, whose namespace has presence. On a single node
// they are answered from the registry at once; in a cluster the PresenceCluster's
// Redis round trip, bounded by Config.HistoryTimeout, runs on a history worker
// keyed by the connection, never on the client's handler goroutine (the event
// loop's small pool runs those, and a slow Redis must not hold them). One
// connection's queries are then answered in order among themselves; other
// messages of the connection may be answered before them, which the echoed "id"
// sorts out.

// presenceQueryAllowed checks a presence query of s for channel: a valid name, a
// namespace with presence, a subscription.
func (p *Publisher) presenceQueryAllowed(s *session.Session, channel string) error {
	if err := channels.ValidateName(channel); err != nil {
		return err
	}
	if !p.PresenceEnabled(channel) {
		return ErrPresenceNotEnabled
	}
	if !p.index.Subscribed(s, channel) {
		return channels.ErrNotSubscribed
	}
	return nil
}

// presenceFrom answers a client's presence query with one page, or an error.
func (p *Publisher) presenceFrom(s *session.Session, message protocol.Message) {
	p.answerPresenceQuery(s, message, func(ctx context.Context) ([]byte, error) {
		page, err := p.Presence(ctx, message.Channel, message.Limit, message.Cursor)
		if err != nil {
			return nil, err
		}
		return protocol.PresenceAnswer{Channel: message.Channel, ID: message.ID, Page: page}.Frame(), nil
	})
}

// presenceStatsFrom answers a client's presence_stats query, or an error.
func (p *Publisher) presenceStatsFrom(s *session.Session, message protocol.Message) {
	p.answerPresenceQuery(s, message, func(ctx context.Context) ([]byte, error) {
		users, connections, err := p.PresenceStats(ctx, message.Channel)
		if err != nil {
			return nil, err
		}
		return protocol.PresenceStatsAnswer{Channel: message.Channel, ID: message.ID, Users: users, Connections: connections}.Frame(), nil
	})
}

// answerPresenceQuery checks that s may query message's channel, then sends s the
// frame query returns, or its refusal. The query runs at once on a single node (the
// registry answers in microseconds) and, in a cluster, on the history worker of s's
// connection, bounded by the history timeout; when that worker's queue is full the
// query is answered presence_unavailable at once rather than wait.
func (p *Publisher) answerPresenceQuery(s *session.Session, message protocol.Message, query func(context.Context) ([]byte, error)) {
	channel := message.Channel
	if err := p.presenceQueryAllowed(s, channel); err != nil {
		refuse(s, err, channel, message.ID)
		return
	}
	run := func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
		defer cancel()
		frame, err := query(ctx)
		if err != nil {
			refusePresence(s, err, channel, message)
			return
		}
		s.Send(frame)
	}
	if p.presence.cluster == nil || p.workers == nil {
		run()
		return
	}
	id := s.ID()
	if !p.workers.submit(string(id[:]), run) {
		s.Send(protocol.Error{Code: channels.CodePresenceUnavailable, Message: "presence could not be read: the presence workers are busy",
			Channel: channel, ID: string(message.ID)}.Frame())
	}
}

// refusePresence answers a query that failed: a refusal of package channels with
// its code, any other error (the cluster's) as presence_unavailable.
func refusePresence(s *session.Session, err error, channel string, message protocol.Message) {
	var refusal *channels.Error
	if errors.As(err, &refusal) {
		refuse(s, err, channel, message.ID)
		return
	}
	s.Send(protocol.Error{Code: channels.CodePresenceUnavailable, Message: "presence could not be read: " + err.Error(),
		Channel: channel, ID: string(message.ID)}.Frame())
}
