package delivery

import (
	"encoding/json"
	"errors"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The subscribe and publish checks (docs/integration.md, "Subscribe and publish
// checks"): in a namespace with subscribe_check or publish_check, a client's
// subscribe or publish that the namespace's rules allow is posted to the
// backend, and handled only once it answers. The call runs on a callbacks
// worker and so does its completion, which subscribes or delivers there; the
// client's handler goroutine only queues it. While the check is in flight the
// connection's later channel requests wait behind it (ordering.go).

// checkCall is the body posted to the subscribe and the publish check: who asks,
// for which channel, with what. Token is a subscribe's subscription token, Data
// a subscribe's "data" or a publication's data; both are left out when absent.
type checkCall struct {
	User         string          `json:"user"`
	ConnectionID string          `json:"connection_id"`
	Channel      string          `json:"channel"`
	Token        string          `json:"token,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
}

// checkBody encodes the check of message, a subscribe or publish, by s.
func checkBody(s *session.Session, message protocol.Message) []byte {
	call := checkCall{User: s.UserID(), ConnectionID: s.ID().String(), Channel: message.Channel, Token: message.Token}
	if string(message.Data) != "null" {
		call.Data = message.Data
	}
	body, _ := json.Marshal(call)
	return body
}

// publishResult is the publish check's "result": data, when present and not
// null, replaces the publication's data.
type publishResult struct {
	Data json.RawMessage `json:"data"`
}

// resultNotPublishObject answers a publish check whose "result" is not an object.
const resultNotPublishObject = `the backend's "result" is not an object {} or {"data":...}`

// inOrder runs next, a channel request of s, in the order s sent it (see
// ordering.go); with no check configured it runs at once. A request that finds
// s's queue full is answered with too_many_requests.
func (p *Publisher) inOrder(s *session.Session, message protocol.Message, next request) {
	if p.subscribeCheck == nil && p.publishCheck == nil {
		next()
		return
	}
	if !p.chains.handle(s, next) {
		s.Send(protocol.Error{Code: protocol.ErrorTooManyRequests, Message: "too many channel requests waiting for a backend check on this connection",
			Channel: message.Channel, ID: string(message.ID)}.Frame())
	}
}

// checkSubscribe posts the subscribe check of message, which the namespace's
// rules allow, and reports whether the call was made; its answer subscribes s
// (join, with the request's recovery) or refuses the subscribe. A call that
// cannot be made is answered at once.
func (p *Publisher) checkSubscribe(s *session.Session, message protocol.Message, options channels.NamespaceOptions) bool {
	p.chains.open(s)
	err := p.subscribeCheck.Go(checkBody(s, message), func(answer callbacks.Answer, err error) {
		p.subscribeChecked(s, message, options, answer, err)
		p.chains.resume(s)
	})
	if err != nil {
		p.subscribeChecked(s, message, options, callbacks.Answer{}, err)
		return false
	}
	return true
}

// subscribeChecked acts on the subscribe check's answer: "result" joins the
// channel as an unchecked subscribe would, "error" is sent to the client with
// the backend's code, "disconnect" closes the connection, a failed call is
// answered backend_unavailable or backend_error.
func (p *Publisher) subscribeChecked(s *session.Session, message protocol.Message, options channels.NamespaceOptions,
	answer callbacks.Answer, err error) {
	if !s.IsOpen() {
		return
	}
	if p.checkRefused(s, message, answer, err) {
		if answer.Error != nil {
			p.counters.subscribeRefusals.add(channels.CodePermissionDenied)
		}
		return
	}
	err = p.join(s, message.Channel, options, joinRequest{id: message.ID, recover: message.Recover,
		from: history.Position{Offset: message.Offset, Epoch: message.Epoch}})
	if err != nil && !errors.Is(err, errClosed) {
		p.counters.subscribeRefusals.add(refuse(s, err, message.Channel, message.ID))
	}
}

// checkPublish posts the publish check of message, which the namespace's rules
// allow, and reports whether the call was made; its answer delivers the
// publication (with the backend's data when it replaced it) or refuses it.
func (p *Publisher) checkPublish(s *session.Session, message protocol.Message, options channels.NamespaceOptions) bool {
	p.chains.open(s)
	err := p.publishCheck.Go(checkBody(s, message), func(answer callbacks.Answer, err error) {
		p.publishChecked(s, message, options, answer, err)
		p.chains.resume(s)
	})
	if err != nil {
		p.publishChecked(s, message, options, callbacks.Answer{}, err)
		return false
	}
	return true
}

// publishChecked acts on the publish check's answer: "result" delivers the
// publication, with "result"'s "data" instead of the client's when there is one;
// "error", "disconnect" and a failed call as in subscribeChecked. An accepted
// publication is delivered even if its sender closed meanwhile: it was sent
// before the close.
func (p *Publisher) publishChecked(s *session.Session, message protocol.Message, options channels.NamespaceOptions,
	answer callbacks.Answer, err error) {
	if p.checkRefused(s, message, answer, err) {
		if answer.Error != nil {
			p.counters.publishRefusals.add(channels.CodePublishNotAllowed)
		}
		return
	}
	var result publishResult
	if answer.Result[0] != '{' || json.Unmarshal(answer.Result, &result) != nil {
		s.Send(protocol.Error{Code: protocol.ErrorBackendError, Message: resultNotPublishObject, Channel: message.Channel,
			ID: string(message.ID)}.Frame())
		return
	}
	data := message.Data
	if result.Data != nil && string(result.Data) != "null" {
		data = result.Data
	}
	p.deliverFrom(s, message.Channel, data, options, message.ID)
}

// checkRefused answers a check that did not accept: the call's failure
// (backend_unavailable when the backend is down, slow or its breaker open,
// backend_error for a malformed answer or a 4xx), the backend's {"error"} with
// its code and message, or its {"disconnect"}, which closes the connection with
// the backend's code. It reports false for a "result".
func (p *Publisher) checkRefused(s *session.Session, message protocol.Message, answer callbacks.Answer, err error) bool {
	refusal := protocol.Error{Channel: message.Channel, ID: string(message.ID)}
	switch {
	case err != nil && callbacks.IsUnavailable(err):
		refusal.Code, refusal.Message = protocol.ErrorBackendUnavailable, err.Error()
	case err != nil:
		refusal.Code, refusal.Message = protocol.ErrorBackendError, err.Error()
	case answer.Error != nil:
		refusal.Code, refusal.Message = answer.Error.Code, answer.Error.Message
	case answer.Disconnect != nil:
		s.CloseWithCode(session.ReasonBackendDisconnect, uint16(answer.Disconnect.Code), answer.Disconnect.Reason)
		return true
	default:
		return false
	}
	s.Send(refusal.Frame())
	return true
}
