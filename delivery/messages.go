package delivery

import (
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// HandleMessage implements session.MessageHandler: what each client message of the
// protocol does (docs/protocol.md, "Client to server"). The session's transport has
// already counted it, applied the rate limit and answered the exact heartbeat ping
// and pong; answers here are queued to the sender, in order with its other frames.
// Called on the sender's handler goroutine; text is only valid during the call.
func (p *Publisher) HandleMessage(s *session.Session, text []byte) {
	message, refusal, ok := protocol.Decode(text)
	if !ok {
		s.Send(refusal.Frame())
		return
	}
	switch message.Type {
	case protocol.TypeMessage:
		s.Send(protocol.ContentFrame(protocol.TypeMessage, message.Content))
	case protocol.TypeBroadcast:
		if channels.BroadcastPermission(p.authentication, p.everyClientMayBroadcast, connectionOf(s)) != nil {
			p.counters.broadcastRefusals.Add(1)
			s.Send(broadcastRefusedFrame)
			return
		}
		p.broadcastFrom(s, message.Content)
	case protocol.TypeSubscribe:
		p.subscribeFrom(s, message)
	case protocol.TypeUnsubscribe:
		p.unsubscribeFrom(s, message)
	case protocol.TypePublish:
		p.publishFrom(s, message)
	case protocol.TypeRPC:
		p.rpcFrom(s, message)
	case protocol.TypePresence:
		p.presenceFrom(s, message)
	case protocol.TypePresenceStats:
		p.presenceStatsFrom(s, message)
	case protocol.TypePing:
		s.Send(protocol.PongFrame())
	case protocol.TypePong:
		// Any inbound frame is proof of life, already recorded; nothing to answer.
	case protocol.TypeHello:
		s.Send(p.welcome(s))
	default:
		s.Send(protocol.UnknownType(message.Type).Frame())
	}
}

// broadcastRefusedFrame answers a client broadcast that its token does not allow.
var broadcastRefusedFrame = protocol.Error{Code: protocol.ErrorPermissionDenied,
	Message: "this connection may not broadcast: its token does not grant it"}.Frame()

// broadcastFrom delivers a client's broadcast to every other connection: queued here
// at once, and handed to the cluster without waiting for it (the sender's handler
// goroutine must not wait for the network), so the client gets no answer either way.
func (p *Publisher) broadcastFrom(sender *session.Session, content []byte) {
	frame := protocol.ContentFrame(protocol.TypeBroadcast, content)
	p.hub.Broadcast(frame, sender.ID())
	if p.forwarder != nil {
		p.forwarder.RelayBroadcast(protocol.FramePayload(frame))
	}
}

// welcome encodes the answer to a hello, with the hub's real heartbeat settings
// (zero when the heartbeat is off).
func (p *Publisher) welcome(s *session.Session) []byte {
	config := p.hub.Config()
	interval, timeout := config.PingInterval, config.PingTimeout
	if interval < 0 {
		interval, timeout = 0, 0
	}
	return protocol.Welcome{ConnectionID: s.ID().String(), UserID: s.UserID(),
		PingInterval: interval, PingTimeout: timeout, Data: s.WelcomeData()}.Frame()
}
