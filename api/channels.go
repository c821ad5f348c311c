package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/httpjson"
)

// The channel endpoints: publications (one, or a batch), server-side
// subscriptions of a user's or one connection's, and the channel listing. Channel
// names travel URL-escaped in the path ("chat%3Aroom%2F1" for "chat:room/1"); the
// router matches the escaped path segment by segment, so an escaped '/' stays part
// of the name.

// Limits of the channel endpoints.
const (
	// MaxBatchPublications is the most publications one POST /api/v1/publish
	// carries; more is answered 400 too_many_publications. The body limit
	// (Config.MaxBodySize) usually binds first.
	MaxBatchPublications = 1000
	// DefaultChannelListLimit and MaxChannelListLimit are the default and the
	// largest ?limit= of GET /api/v1/channels.
	DefaultChannelListLimit = 100
	MaxChannelListLimit     = 10000
	// MaxUnsubscribeReasonSize is the longest "reason" of a server-side
	// unsubscribe, in bytes of UTF-8.
	MaxUnsubscribeReasonSize = 255
)

// routeChannels registers the channel endpoints, each behind the API key rule.
func (a *API) routeChannels() {
	a.routes.handle("POST", "/api/v1/channels/{channel}/publish", a.access.protect(a.servePublishToChannel))
	a.routes.handle("POST", "/api/v1/publish", a.access.protect(a.servePublishBatch))
	a.routes.handle("POST", "/api/v1/users/{user_id}/subscribe", a.access.protect(a.serveUserSubscription(true)))
	a.routes.handle("POST", "/api/v1/users/{user_id}/unsubscribe", a.access.protect(a.serveUserSubscription(false)))
	a.routes.handle("POST", "/api/v1/connections/{connection_id}/subscribe", a.access.protect(a.serveConnectionSubscription(true)))
	a.routes.handle("POST", "/api/v1/connections/{connection_id}/unsubscribe", a.access.protect(a.serveConnectionSubscription(false)))
	a.routes.handle("GET", "/api/v1/channels", a.access.protect(a.serveChannelList))
	a.routes.handle("GET", "/api/v1/channels/{channel}", a.access.protect(a.serveChannel))
	a.routes.handle("GET", "/api/v1/channels/{channel}/history", a.access.protect(a.serveHistory))
}

// publication is one publication of a request: its channel (from the path, or the
// batch item) and its data, any JSON value sent byte for byte.
type publication struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// check returns the error object of an invalid publication, or nil.
func (p publication) check() *errorResponse {
	if err := channels.ValidateName(p.Channel); err != nil {
		return &errorResponse{Error: channels.CodeInvalidChannel, Message: err.Error()}
	}
	if p.Data == nil {
		return &errorResponse{Error: "missing_data", Message: `the publication has no "data"`}
	}
	return nil
}

// servePublishToChannel answers POST /api/v1/channels/{channel}/publish
// {"data":...}: {"queued":N} for this node's subscribers, with "nodes" in a cluster
// whose nodes carry channels, and the publication's "offset" and "epoch" for a
// history channel.
func (a *API) servePublishToChannel(writer http.ResponseWriter, request *http.Request) {
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	if !a.readJSON(writer, request, &body, true) {
		return
	}
	item := publication{Channel: request.PathValue("channel"), Data: body.Data}
	if refusal := item.check(); refusal != nil {
		httpjson.Write(writer, http.StatusBadRequest, refusal)
		return
	}
	result := a.publisher.PublishToChannel(request.Context(), item.Channel, item.Data)
	if result.Err != nil {
		a.writeDeliveryUnavailable(writer, result.Err, "queued", result.Local)
		return
	}
	answer := map[string]any{"queued": result.Local}
	if result.Forwarded {
		answer["nodes"] = result.Nodes
	}
	httpjson.Write(writer, http.StatusOK, positionFields(answer, result.Position))
}

// batchResult is one entry of a batch's answer: what was queued, or the item's
// error object.
type batchResult struct {
	Queued  *int    `json:"queued,omitempty"`
	Nodes   *int    `json:"nodes,omitempty"`
	Offset  *uint64 `json:"offset,omitempty"`
	Epoch   string  `json:"epoch,omitempty"`
	Error   string  `json:"error,omitempty"`
	Message string  `json:"message,omitempty"`
	Cluster string  `json:"cluster,omitempty"`
}

// servePublishBatch answers POST /api/v1/publish {"publications":[{"channel":...,
// "data":...},...]} with {"results":[...]}, one per publication in order: each
// {"queued":N} (with "nodes" in a cluster, "offset" and "epoch" for a history
// channel), or the item's own error object, so one bad item fails alone. At most
// MaxBatchPublications.
func (a *API) servePublishBatch(writer http.ResponseWriter, request *http.Request) {
	var body struct {
		Publications *[]publication `json:"publications"`
	}
	if !a.readJSON(writer, request, &body, true) {
		return
	}
	switch {
	case body.Publications == nil:
		writeError(writer, http.StatusBadRequest, "missing_publications", `the body has no "publications" list`)
		return
	case len(*body.Publications) > MaxBatchPublications:
		writeError(writer, http.StatusBadRequest, "too_many_publications",
			"a batch holds at most "+strconv.Itoa(MaxBatchPublications)+" publications")
		return
	}
	results := make([]batchResult, len(*body.Publications))
	valid := make([]delivery.ChannelPublication, 0, len(*body.Publications))
	for position, item := range *body.Publications {
		if refusal := item.check(); refusal != nil {
			results[position] = batchResult{Error: refusal.Error, Message: refusal.Message}
			continue
		}
		valid = append(valid, delivery.ChannelPublication{Channel: item.Channel, Data: item.Data})
	}
	delivered := a.publisher.PublishBatch(request.Context(), valid)
	for position := range results {
		if results[position].Error != "" {
			continue
		}
		result := delivered[0]
		delivered = delivered[1:]
		local := result.Local
		results[position].Queued = &local
		switch {
		case result.Err != nil:
			results[position].Error, results[position].Cluster = codeClusterUnavailable, clusterUnavailable
			results[position].Message = messageClusterUnavailable + "delivered to this node's subscribers only"
		case result.Forwarded:
			nodes := result.Nodes
			results[position].Nodes = &nodes
		}
		if result.Position != (history.Position{}) {
			offset := result.Position.Offset
			results[position].Offset, results[position].Epoch = &offset, result.Position.Epoch
		}
	}
	httpjson.Write(writer, http.StatusOK, map[string]any{"results": results})
}

// subscriptionRequest is the body of the server-side subscription endpoints.
type subscriptionRequest struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
}

// readSubscription reads and checks a subscription request; it answers 400 itself.
func (a *API) readSubscription(writer http.ResponseWriter, request *http.Request) (subscriptionRequest, bool) {
	var body subscriptionRequest
	if !a.readJSON(writer, request, &body, true) {
		return body, false
	}
	if err := channels.ValidateName(body.Channel); err != nil {
		writeError(writer, http.StatusBadRequest, channels.CodeInvalidChannel, err.Error())
		return body, false
	}
	if !utf8.ValidString(body.Reason) || len(body.Reason) > MaxUnsubscribeReasonSize {
		writeError(writer, http.StatusBadRequest, "invalid_reason",
			"reason must be UTF-8 text of at most "+strconv.Itoa(MaxUnsubscribeReasonSize)+" bytes")
		return body, false
	}
	return body, true
}

// serveUserSubscription answers POST /api/v1/users/{user_id}/subscribe and
// /unsubscribe {"channel":...,"reason":...}: every connection of the user, on every
// node, is subscribed or unsubscribed and told so. {"connections":N} counts this
// node's connections whose subscription changed, with "nodes" in a cluster whose
// nodes carry channels.
func (a *API) serveUserSubscription(subscribe bool) http.HandlerFunc {
	return func(writer http.ResponseWriter, request *http.Request) {
		body, valid := a.readSubscription(writer, request)
		if !valid {
			return
		}
		result := a.publisher.ChangeUserSubscription(request.Context(), request.PathValue("user_id"), body.Channel,
			subscribe, body.Reason)
		a.writeSubscriptionResult(writer, result)
	}
}

// serveConnectionSubscription answers POST
// /api/v1/connections/{connection_id}/subscribe and /unsubscribe: {"connections":1}
// when the connection is open here (it is told when its subscription changed),
// {"connections":0,"nodes":1} when its node received the request, 404 when no live
// node holds it.
func (a *API) serveConnectionSubscription(subscribe bool) http.HandlerFunc {
	return func(writer http.ResponseWriter, request *http.Request) {
		body, valid := a.readSubscription(writer, request)
		if !valid {
			return
		}
		id, found := connectionIDFromPath(writer, request)
		if !found {
			return
		}
		result := a.publisher.ChangeConnectionSubscription(request.Context(), id, body.Channel, subscribe, body.Reason)
		if result.Err == nil && !result.Reached() {
			writeConnectionNotFound(writer, request)
			return
		}
		a.writeSubscriptionResult(writer, result)
	}
}

// writeSubscriptionResult answers a server-side subscription change: this node's
// connections and, when forwarded, the other nodes reached; 503 when they could
// not be.
func (a *API) writeSubscriptionResult(writer http.ResponseWriter, result delivery.Result) {
	if result.Err != nil {
		a.writeDeliveryUnavailable(writer, result.Err, "connections", result.Local)
		return
	}
	answer := map[string]int{"connections": result.Local}
	if result.Forwarded {
		answer["nodes"] = result.Nodes
	}
	httpjson.Write(writer, http.StatusOK, answer)
}

// channelEntry is one channel of the listing.
type channelEntry struct {
	Channel     string `json:"channel"`
	Subscribers int    `json:"subscribers"`
}

// readScope returns the ?scope= of a stats or channel endpoint, "node" (the
// default) or "cluster"; it answers 400 invalid_scope itself for anything else.
func readScope(writer http.ResponseWriter, request *http.Request) (scope string, valid bool) {
	switch scope := request.URL.Query().Get("scope"); scope {
	case "", "node":
		return "node", true
	case "cluster":
		return scope, true
	}
	writeError(writer, http.StatusBadRequest, "invalid_scope", `scope must be "node" or "cluster"`)
	return "", false
}

// channelEntries converts counts to the listing's entries.
func channelEntries(counts []channels.ChannelCounts) []channelEntry {
	entries := make([]channelEntry, len(counts))
	for position, entry := range counts {
		entries[position] = channelEntry{Channel: entry.Channel, Subscribers: entry.Subscribers}
	}
	return entries
}

// serveChannelList answers GET /api/v1/channels?prefix=&limit=: this node's
// channels whose names start with prefix, most subscribers first,
// {"channels":[{"channel":...,"subscribers":N},...],"truncated":bool}, in
// O(result) whatever the number of channels. ?scope=cluster sums the counts of
// every live node (writeClusterChannels).
func (a *API) serveChannelList(writer http.ResponseWriter, request *http.Request) {
	scope, valid := readScope(writer, request)
	if !valid {
		return
	}
	query := request.URL.Query()
	limit := DefaultChannelListLimit
	if text := query.Get("limit"); text != "" {
		parsed, err := strconv.Atoi(text)
		if err != nil || parsed < 1 || parsed > MaxChannelListLimit {
			writeError(writer, http.StatusBadRequest, "invalid_limit",
				"limit must be a whole number from 1 to "+strconv.Itoa(MaxChannelListLimit))
			return
		}
		limit = parsed
	}
	prefix := query.Get("prefix")
	local := func() map[string]any {
		top, truncated := a.publisher.TopChannels(prefix, limit)
		return map[string]any{"channels": channelEntries(top), "truncated": truncated}
	}
	if scope == "cluster" {
		a.writeClusterChannels(writer, local, func() (channels.MergedCounts, error) {
			return a.cluster.TopChannels(request.Context(), prefix, limit)
		}, func(merged channels.MergedCounts) map[string]any {
			return map[string]any{"channels": channelEntries(merged.Channels), "truncated": merged.Truncated}
		})
		return
	}
	httpjson.Write(writer, http.StatusOK, local())
}

// serveChannel answers GET /api/v1/channels/{channel}:
// {"channel":...,"subscribers":N,"users":M} on this node, zeros for a channel
// without subscribers; O(1). ?scope=cluster sums the counts of every live node
// (writeClusterChannels).
func (a *API) serveChannel(writer http.ResponseWriter, request *http.Request) {
	scope, valid := readScope(writer, request)
	if !valid {
		return
	}
	channel := request.PathValue("channel")
	if err := channels.ValidateName(channel); err != nil {
		writeError(writer, http.StatusBadRequest, channels.CodeInvalidChannel, err.Error())
		return
	}
	answerOf := func(counts channels.ChannelCounts) map[string]any {
		return map[string]any{"channel": channel, "subscribers": counts.Subscribers, "users": counts.Users}
	}
	local := func() map[string]any {
		counts, _ := a.publisher.ChannelCounts(channel)
		return answerOf(counts)
	}
	if scope == "cluster" {
		a.writeClusterChannels(writer, local, func() (channels.MergedCounts, error) {
			return a.cluster.ChannelCounts(request.Context(), channel)
		}, func(merged channels.MergedCounts) map[string]any { return answerOf(merged.Channels[0]) })
		return
	}
	httpjson.Write(writer, http.StatusOK, local())
}

// writeClusterChannels answers a channel endpoint's ?scope=cluster. When the node is
// clustered, ask gathers every live node's figures (see cluster.Node.ChannelCounts
// and TopChannels: one query to all nodes, each answering in O(its answer), for at
// most the cluster's Timeout) and merged turns them into the answer; local gives
// this node's own, computed only when they are answered (a single node is a cluster
// of one; when Redis cannot be reached it answers 503 cluster_unavailable with this
// node's figures and "scope":"node"). It adds "scope":"cluster", "nodes" (the nodes
// that answered, this one included) and, when live nodes did not answer in time,
// "partial":true and "missing" (how many).
func (a *API) writeClusterChannels(writer http.ResponseWriter, local func() map[string]any,
	ask func() (channels.MergedCounts, error), merged func(channels.MergedCounts) map[string]any) {
	if a.cluster == nil {
		answer := local()
		answer["scope"], answer["nodes"] = "cluster", 1
		httpjson.Write(writer, http.StatusOK, answer)
		return
	}
	counts, err := ask()
	if err != nil {
		answer := local()
		answer["scope"] = "node"
		a.writeClusterUnavailable(writer, err, "the counts below are this node's", answer)
		return
	}
	answer := merged(counts)
	answer["scope"], answer["nodes"] = "cluster", counts.Nodes
	if counts.Missing > 0 {
		answer["partial"], answer["missing"] = true, counts.Missing
	}
	httpjson.Write(writer, http.StatusOK, answer)
}
