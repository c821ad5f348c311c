package delivery

import (
	"encoding/json"
	"sync"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The backend callbacks of the client-message path (package callbacks): the
// client's rpc, answered when the backend's answer comes back on a callbacks
// worker, and the connection events posted as connections open, close, subscribe
// and unsubscribe. Neither waits for the network on the client's handler
// goroutine: Endpoint.Go and Events.Add return at once.

// DefaultMaxRPCsPerConnection is the default of Config.MaxRPCsPerConnection: the
// rpcs one connection may have in flight at once, so that one client cannot fill
// the callbacks queue that every connection shares.
const DefaultMaxRPCsPerConnection = 16

// The "reason" of unsubscribe events: who ended the subscription. A disconnect
// ends every subscription of its connection without an unsubscribe event each.
const (
	UnsubscribedByClient = "client"
	UnsubscribedByServer = "server"
)

// emit queues a connection event of eventType for s when events are configured.
func (p *Publisher) emit(eventType string, s *session.Session, channel, reason string) {
	if p.events == nil {
		return
	}
	p.events.Add(callbacks.Event{Type: eventType, ConnectionID: s.ID().String(), User: s.UserID(), Channel: channel,
		Reason: reason})
}

// rpcCall is the body posted to the RPC backend.
type rpcCall struct {
	User         string          `json:"user"`
	ConnectionID string          `json:"connection_id"`
	Method       string          `json:"method"`
	Data         json.RawMessage `json:"data"`
}

// The messages of the rpc_errors the gateway gives itself.
const (
	rpcNotConfigured = "this gateway has no RPC backend (-rpc-url)"
	tooManyRPCs      = "too many rpcs in flight on this connection; wait for their answers"
	resultNotObject  = `the backend's "result" is not an object {"data":...}`
)

// rpcFrom handles a client's rpc: within the connection's bound of rpcs in flight,
// it posts {"user","connection_id","method","data"} to the RPC endpoint and
// returns; the answer is sent when the backend's comes back (in any order: ids match
// them), or an rpc_error at once when the call cannot be made.
func (p *Publisher) rpcFrom(s *session.Session, message protocol.Message) {
	if p.rpc == nil {
		s.Send(protocol.RPCError{ID: message.ID, Code: protocol.ErrorRPCNotConfigured, Message: rpcNotConfigured}.Frame())
		return
	}
	if !p.rpcsInFlight.acquire(s, p.maxRPCsPerConnection) {
		s.Send(protocol.RPCError{ID: message.ID, Code: protocol.ErrorTooManyRPCs, Message: tooManyRPCs}.Frame())
		return
	}
	body, _ := json.Marshal(rpcCall{User: s.UserID(), ConnectionID: s.ID().String(), Method: message.Method,
		Data: message.Data})
	id := message.ID
	err := p.rpc.Go(body, func(answer callbacks.Answer, err error) {
		p.rpcsInFlight.release(s)
		p.answerRPC(s, id, answer, err)
	})
	if err != nil {
		p.rpcsInFlight.release(s)
		p.answerRPC(s, id, callbacks.Answer{}, err)
	}
}

// answerRPC sends s the answer to its rpc id: the backend's result data or error,
// or rpc_error backend_unavailable / backend_error for a failed call. A
// {"disconnect"} answer closes the connection with the backend's code and reason,
// as the connect callback's does.
func (p *Publisher) answerRPC(s *session.Session, id json.RawMessage, answer callbacks.Answer, err error) {
	switch {
	case err != nil && callbacks.IsUnavailable(err):
		s.Send(protocol.RPCError{ID: id, Code: protocol.ErrorBackendUnavailable, Message: err.Error()}.Frame())
	case err != nil:
		s.Send(protocol.RPCError{ID: id, Code: protocol.ErrorBackendError, Message: err.Error()}.Frame())
	case answer.Error != nil:
		s.Send(protocol.RPCError{ID: id, Code: answer.Error.Code, Message: answer.Error.Message}.Frame())
	case answer.Disconnect != nil:
		s.CloseWithCode(session.ReasonBackendDisconnect, uint16(answer.Disconnect.Code), answer.Disconnect.Reason)
	default:
		var result struct {
			Data json.RawMessage `json:"data"`
		}
		if answer.Result[0] != '{' || json.Unmarshal(answer.Result, &result) != nil {
			s.Send(protocol.RPCError{ID: id, Code: protocol.ErrorBackendError, Message: resultNotObject}.Frame())
			return
		}
		s.Send(protocol.RPCResult{ID: id, Data: result.Data}.Frame())
	}
}

// rpcShardCount is the number of shards of rpcCounts: a power of two, enough that
// connections answering at once rarely share a mutex.
const rpcShardCount = 64

// rpcCounts counts the rpcs in flight per connection. Only connections with an
// rpc in flight have an entry, so the memory follows the calls (bounded by the
// callbacks queue and workers), not the connections.
type rpcCounts struct {
	shards [rpcShardCount]struct {
		mutex  sync.Mutex
		counts map[*session.Session]int
	}
}

// shardOf returns the shard of s, chosen by the random bytes of its id.
func (c *rpcCounts) shardOf(s *session.Session) (*sync.Mutex, *map[*session.Session]int) {
	id := s.ID()
	shard := &c.shards[(id[15]^id[7])&(rpcShardCount-1)]
	return &shard.mutex, &shard.counts
}

// acquire counts one more rpc of s unless it has limit in flight (limit <= 0:
// unlimited).
func (c *rpcCounts) acquire(s *session.Session, limit int) bool {
	mutex, counts := c.shardOf(s)
	mutex.Lock()
	defer mutex.Unlock()
	if *counts == nil {
		*counts = map[*session.Session]int{}
	}
	if limit > 0 && (*counts)[s] >= limit {
		return false
	}
	(*counts)[s]++
	return true
}

// release counts one rpc of s fewer.
func (c *rpcCounts) release(s *session.Session) {
	mutex, counts := c.shardOf(s)
	mutex.Lock()
	defer mutex.Unlock()
	if (*counts)[s] <= 1 {
		delete(*counts, s)
		return
	}
	(*counts)[s]--
}
