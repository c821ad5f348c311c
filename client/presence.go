package client

import (
	"context"
	"encoding/json"
	"errors"
)

// Presence (docs/channels.md, "Presence"): a Subscription asks who is in its channel
// (Presence, PresenceStats) in a namespace with presence, and receives the joins and
// leaves of a namespace with join_leave (SubscribeOptions.OnJoin, OnLeave,
// OnPresenceDiff).

// ErrNotConnected is returned by a query made while the Client has no open
// connection, or whose connection ended before the answer.
var ErrNotConnected = errors.New("client: no open connection")

// The error codes of presence queries: the Code of the *ChannelError a query returns
// besides ChannelNotSubscribed and ChannelInvalidChannel.
const (
	ChannelPresenceNotEnabled  = "presence_not_enabled"
	ChannelInvalidCursor       = "invalid_cursor"
	ChannelPresenceUnavailable = "presence_unavailable"
)

// PresenceQuery is one presence page request. Zero values mean the server's
// defaults.
type PresenceQuery struct {
	// Limit is the most users of the page, 1 to 1000; 0 means the server's default
	// (100), more is cut to 1000.
	Limit int
	// Cursor is the Cursor of the previous page; "" for the first page.
	Cursor string
}

// PresencePage is one page of a channel's presence. A value.
type PresencePage struct {
	Channel string `json:"channel"`
	// Users maps each user listed to its number of connections subscribed.
	Users map[string]int `json:"users"`
	// TotalUsers and TotalConnections are the channel's totals.
	TotalUsers       int `json:"total_users"`
	TotalConnections int `json:"total_connections"`
	// Cursor names the next page; "" on the last one. Walked with it, the pages list
	// every user present throughout exactly once.
	Cursor string `json:"cursor"`
}

// PresenceStats are a channel's presence counts. A value.
type PresenceStats struct {
	Channel     string `json:"channel"`
	Users       int    `json:"users"`
	Connections int    `json:"connections"`
}

// PresenceEvent is a join (the user's first connection subscribed to the channel)
// or a leave (its last one left). A value.
type PresenceEvent struct {
	Channel string
	User    string
	// Joined is true for a join, false for a leave.
	Joined bool
}

// PresenceDiff is the joins and leaves of one period of a channel whose events the
// server coalesces under churn: the users, or only their counts when too many
// changed (Counted; ask Presence for the list then). A value.
type PresenceDiff struct {
	Channel       string
	Joins, Leaves []string
	Counted       bool
	JoinCount     int
	LeaveCount    int
	Raw           json.RawMessage
}

// queryAnswer is the answer to a query: the message, or the refusal.
type queryAnswer struct {
	data json.RawMessage
	err  error
}

// presenceFrame is a presence query.
type presenceFrame struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	ID      uint64 `json:"id"`
	Limit   int    `json:"limit,omitempty"`
	Cursor  string `json:"cursor,omitempty"`
}

// Presence asks the server for one page of the presence of the subscription's
// channel and waits for it, or for ctx. The subscription must be subscribed (else
// a *ChannelError not_subscribed); presence_not_enabled, invalid_cursor and, in a
// cluster, presence_unavailable come as *ChannelError too, and ErrNotConnected
// without an open connection. Never call it from a callback: the answer arrives on
// Run's goroutine, which runs the callbacks.
func (s *Subscription) Presence(ctx context.Context, query PresenceQuery) (PresencePage, error) {
	var page PresencePage
	data, err := s.router.query(ctx, presenceFrame{Type: "presence", Channel: s.channel, Limit: query.Limit, Cursor: query.Cursor})
	if err == nil {
		err = json.Unmarshal(data, &page)
	}
	return page, err
}

// PresenceStats asks the server for the presence counts of the subscription's
// channel and waits for them, as Presence does.
func (s *Subscription) PresenceStats(ctx context.Context) (PresenceStats, error) {
	var stats PresenceStats
	data, err := s.router.query(ctx, presenceFrame{Type: "presence_stats", Channel: s.channel})
	if err == nil {
		err = json.Unmarshal(data, &stats)
	}
	return stats, err
}

// query sends frame with a fresh id on the open connection and waits for the
// answer with that id, or ctx.
func (r *router) query(ctx context.Context, frame presenceFrame) (json.RawMessage, error) {
	r.mutex.Lock()
	l := r.current
	if l == nil {
		r.mutex.Unlock()
		return nil, ErrNotConnected
	}
	frame.ID = r.nextID()
	answer := make(chan queryAnswer, 1)
	r.queries[frame.ID] = answer
	encoded, _ := json.Marshal(frame)
	l.pushControl(encoded)
	r.mutex.Unlock()
	select {
	case got := <-answer:
		return got.data, got.err
	case <-ctx.Done():
		r.mutex.Lock()
		delete(r.queries, frame.ID)
		r.mutex.Unlock()
		return nil, ctx.Err()
	}
}

// answerQueryLocked hands a query's answer (data, or the refusal message) to its waiter;
// false when id is no query's. Called with the lock.
func (r *router) answerQueryLocked(id uint64, ours bool, kind string, data []byte, message *channelMessage) bool {
	answer, found := r.queries[id]
	if !ours || !found {
		return false
	}
	delete(r.queries, id)
	if kind == "error" {
		refusal := &ChannelError{Code: message.Code, Message: message.Message, ID: message.ID}
		if message.Channel != nil {
			refusal.Channel = *message.Channel
		}
		answer <- queryAnswer{err: refusal}
		return true
	}
	answer <- queryAnswer{data: append(json.RawMessage(nil), data...)}
	return true
}

// failQueriesLocked answers every query waiting with ErrNotConnected, as its
// connection ended. Called with the lock.
func (r *router) failQueriesLocked() {
	for id, answer := range r.queries {
		answer <- queryAnswer{err: ErrNotConnected}
		delete(r.queries, id)
	}
}

// presenceMessage is a join, leave or presence_diff.
type presenceMessage struct {
	User       string   `json:"user"`
	Joins      []string `json:"joins"`
	Leaves     []string `json:"leaves"`
	JoinCount  *int     `json:"join_count"`
	LeaveCount *int     `json:"leave_count"`
}

// onPresenceEventLocked returns the call of the subscription's callback for a join,
// leave or presence_diff of channel; nil when no subscription of the channel takes
// it (the message then goes to Options.OnMessage). Called with the lock.
func (r *router) onPresenceEventLocked(channel, kind string, data []byte) (call func(), taken bool) {
	s := r.subscriptions[channel]
	if s == nil {
		return nil, false
	}
	var message presenceMessage
	if json.Unmarshal(data, &message) != nil {
		return nil, false
	}
	switch kind {
	case "join", "leave":
		callback := s.options.OnLeave
		if kind == "join" {
			callback = s.options.OnJoin
		}
		if callback == nil {
			return nil, false
		}
		event := PresenceEvent{Channel: channel, User: message.User, Joined: kind == "join"}
		return func() { callback(event) }, true
	}
	callback := s.options.OnPresenceDiff
	if callback == nil {
		return nil, false
	}
	diff := PresenceDiff{Channel: channel, Joins: message.Joins, Leaves: message.Leaves,
		Raw: append(json.RawMessage(nil), data...)}
	if message.JoinCount != nil && message.LeaveCount != nil {
		diff.Counted, diff.JoinCount, diff.LeaveCount = true, *message.JoinCount, *message.LeaveCount
	} else {
		diff.JoinCount, diff.LeaveCount = len(diff.Joins), len(diff.Leaves)
	}
	return func() { callback(diff) }, true
}
