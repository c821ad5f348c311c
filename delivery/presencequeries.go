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
// one Redis round trip runs on the client's handler goroutine, bounded by
// Config.HistoryTimeout, so the answers to one connection keep their order.

// codePresenceUnavailable answers a query the cluster could not answer.
const codePresenceUnavailable = "presence_unavailable"

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
	ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
	defer cancel()
	page, err := p.Presence(ctx, channel, message.Limit, message.Cursor)
	if err != nil {
		refusePresence(s, err, channel, message)
		return
	}
	s.Send(protocol.PresenceAnswer{Channel: channel, ID: message.ID, Page: page}.Frame())
}

// presenceStatsFrom answers a client's presence_stats query, or an error.
func (p *Publisher) presenceStatsFrom(s *session.Session, message protocol.Message) {
	channel := message.Channel
	if err := p.presenceQueryAllowed(s, channel); err != nil {
		refuse(s, err, channel, message.ID)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
	defer cancel()
	users, connections, err := p.PresenceStats(ctx, channel)
	if err != nil {
		refusePresence(s, err, channel, message)
		return
	}
	s.Send(protocol.PresenceStatsAnswer{Channel: channel, ID: message.ID, Users: users, Connections: connections}.Frame())
}

// refusePresence answers a query that failed: a refusal of package channels with
// its code, any other error (the cluster's) as presence_unavailable.
func refusePresence(s *session.Session, err error, channel string, message protocol.Message) {
	var refusal *channels.Error
	if errors.As(err, &refusal) {
		refuse(s, err, channel, message.ID)
		return
	}
	s.Send(protocol.Error{Code: codePresenceUnavailable, Message: "presence could not be read: " + err.Error(),
		Channel: channel, ID: string(message.ID)}.Frame())
}
