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
	channel := message.Channel
	if err := p.presenceQueryAllowed(s, channel); err != nil {
		refuse(s, err, channel, message.ID)
		return
	}
	p.runPresenceQuery(s, channel, message, func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
		defer cancel()
		page, err := p.Presence(ctx, channel, message.Limit, message.Cursor)
		if err != nil {
			refusePresence(s, err, channel, message)
			return
		}
		s.Send(protocol.PresenceAnswer{Channel: channel, ID: message.ID, Page: page}.Frame())
	})
}

// presenceStatsFrom answers a client's presence_stats query, or an error.
func (p *Publisher) presenceStatsFrom(s *session.Session, message protocol.Message) {
	channel := message.Channel
	if err := p.presenceQueryAllowed(s, channel); err != nil {
		refuse(s, err, channel, message.ID)
		return
	}
	p.runPresenceQuery(s, channel, message, func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
		defer cancel()
		users, connections, err := p.PresenceStats(ctx, channel)
		if err != nil {
			refusePresence(s, err, channel, message)
			return
		}
		s.Send(protocol.PresenceStatsAnswer{Channel: channel, ID: message.ID, Users: users, Connections: connections}.Frame())
	})
}

// runPresenceQuery runs query, the work of a presence query of s, at once on a
// single node (the registry answers in microseconds) and, in a cluster, on the
// history worker of s's connection; when that worker's queue is full the query is
// answered presence_unavailable at once rather than wait.
func (p *Publisher) runPresenceQuery(s *session.Session, channel string, message protocol.Message, query func()) {
	if p.presence.cluster == nil || p.workers == nil {
		query()
		return
	}
	id := s.ID()
	if !p.workers.submit(string(id[:]), query) {
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
