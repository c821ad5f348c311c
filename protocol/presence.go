package protocol

import (
	"encoding/json"
	"strconv"

	"github.com/wsgate/wsgate/presence"
)

// The presence messages (docs/protocol.md, "Presence"): a client's query of a
// channel's presence and its answer, and the join, leave and presence_diff
// messages the server sends a channel's subscribers.

// PresenceAnswer answers a client's presence query with one page of the
// channel's presence.
type PresenceAnswer struct {
	Channel string
	// ID is the raw JSON of the request's "id", nil for none.
	ID   json.RawMessage
	Page presence.Page
}

// Frame encodes {"type":"presence","channel":C,"id":I,"users":{"42":2,...},
// "total_users":N,"total_connections":M,"cursor":"..."} as a text frame: "id"
// only when the request had one, "cursor" always ("" on the last page), "users"
// an object even when empty.
func (a PresenceAnswer) Frame() []byte {
	users := a.Page.Users
	if users == nil {
		users = map[string]int{}
	}
	payload, _ := json.Marshal(struct {
		Type             string          `json:"type"`
		Channel          string          `json:"channel"`
		ID               json.RawMessage `json:"id,omitempty"`
		Users            map[string]int  `json:"users"`
		TotalUsers       int             `json:"total_users"`
		TotalConnections int             `json:"total_connections"`
		Cursor           string          `json:"cursor"`
	}{TypePresence, a.Channel, a.ID, users, a.Page.TotalUsers, a.Page.TotalConnections, a.Page.Cursor})
	return TextFrame(payload)
}

// PresenceStatsAnswer answers a client's presence_stats query.
type PresenceStatsAnswer struct {
	Channel string
	// ID is the raw JSON of the request's "id", nil for none.
	ID                 json.RawMessage
	Users, Connections int
}

// Frame encodes {"type":"presence_stats","channel":C,"id":I,"users":N,
// "connections":M} as a text frame, "id" only when the request had one.
func (a PresenceStatsAnswer) Frame() []byte {
	payload, _ := json.Marshal(struct {
		Type        string          `json:"type"`
		Channel     string          `json:"channel"`
		ID          json.RawMessage `json:"id,omitempty"`
		Users       int             `json:"users"`
		Connections int             `json:"connections"`
	}{TypePresenceStats, a.Channel, a.ID, a.Users, a.Connections})
	return TextFrame(payload)
}

// JoinLeavePayload encodes {"type":messageType,"channel":channel,"user":user},
// messageType TypeJoin or TypeLeave: the payload (not a frame, as it travels to
// the other nodes too) that every subscriber of the channel receives, encoded
// once.
func JoinLeavePayload(messageType, channel, user string) []byte {
	payload, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Channel string `json:"channel"`
		User    string `json:"user"`
	}{messageType, channel, user})
	return payload
}

// PresenceDiffPayload encodes {"type":"presence_diff","channel":channel,
// "joins":[...],"leaves":[...]}: the users who joined and left channel during one
// period of coalescing (both lists present, possibly empty).
func PresenceDiffPayload(channel string, joins, leaves []string) []byte {
	if joins == nil {
		joins = []string{}
	}
	if leaves == nil {
		leaves = []string{}
	}
	payload, _ := json.Marshal(struct {
		Type    string   `json:"type"`
		Channel string   `json:"channel"`
		Joins   []string `json:"joins"`
		Leaves  []string `json:"leaves"`
	}{TypePresenceDiff, channel, joins, leaves})
	return payload
}

// PresenceDiffCountsPayload encodes {"type":"presence_diff","channel":channel,
// "join_count":J,"leave_count":L}: a period's diff too large to list its users; a
// client that needs the list asks for the presence again.
func PresenceDiffCountsPayload(channel string, joins, leaves int) []byte {
	name, _ := json.Marshal(channel)
	payload := make([]byte, 0, 80+len(name))
	payload = append(payload, `{"type":"presence_diff","channel":`...)
	payload = append(payload, name...)
	payload = append(payload, `,"join_count":`...)
	payload = strconv.AppendInt(payload, int64(joins), 10)
	payload = append(payload, `,"leave_count":`...)
	payload = strconv.AppendInt(payload, int64(leaves), 10)
	return append(payload, '}')
}

// decodePresenceFields fills a presence query's "limit" (a whole number from 1;
// more than presence.MaxPageSize is cut to it) and "cursor" (a string), each
// optional; a refusal echoes the channel and the id.
func decodePresenceFields(message Message, limit, cursor json.RawMessage) (Message, Error, bool) {
	invalid := func(text string) (Message, Error, bool) {
		return Message{}, Error{Code: ErrorInvalidField, Message: text, Channel: message.Channel, ID: string(message.ID)}, false
	}
	if limit != nil && string(limit) != "null" {
		var value uint64
		if json.Unmarshal(limit, &value) != nil || value == 0 {
			return invalid(`"limit" must be a whole number from 1`)
		}
		message.Limit = int(min(value, presence.MaxPageSize))
	}
	if !decodeOptionalString(cursor, &message.Cursor) {
		return invalid(`"cursor" must be a string`)
	}
	return message, Error{}, true
}
