package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/internal/httpjson"
)

// DefaultStatsLimit is how many users /api/v1/ws/stats lists when ?limit is absent.
const DefaultStatsLimit = 100

// maxStatsLimit bounds ?limit so one request cannot ask for every user of a node.
const maxStatsLimit = 10000

// statsResponse is the seed's stats document plus what a large node needs: the
// per-user map holds at most limit users (those with the most connections) and
// truncated says whether some were left out; the node's totals follow.
type statsResponse struct {
	TotalConnections  int            `json:"total_connections"`
	TotalUsers        int            `json:"total_users"`
	ConnectionsByUser map[string]int `json:"connections_by_user"`
	Limit             int            `json:"limit,omitempty"`
	Truncated         bool           `json:"truncated"`
	UserID            string         `json:"user_id,omitempty"`
	ConnectionIDs     []string       `json:"connection_ids,omitempty"`
	nodeTotals
}

// nodeTotals are the node's running totals since it started, the same values as the
// wsgate_ counters on /metrics; reading them costs O(reasons).
type nodeTotals struct {
	// UptimeSeconds is the time since the node started, in seconds (millisecond precision).
	UptimeSeconds float64 `json:"uptime_seconds"`
	// ConnectionsAccepted counts connections that entered the registry.
	ConnectionsAccepted uint64 `json:"connections_accepted"`
	// ConnectionsRefused counts refused connections, all reasons together.
	ConnectionsRefused uint64 `json:"connections_refused"`
	// RefusedByReason splits ConnectionsRefused by reason name.
	RefusedByReason map[string]uint64 `json:"refused_by_reason"`
	// DisconnectsByReason counts registered connections that ended, by close reason.
	DisconnectsByReason map[string]uint64 `json:"disconnects_by_reason"`
	// MessagesReceived counts data messages from clients.
	MessagesReceived uint64 `json:"messages_received"`
	// MessagesSent counts frames queued to clients (a broadcast counts once per target).
	MessagesSent uint64 `json:"messages_sent"`
	// Draining is true from the start of a drain or shutdown; Drain tells a drain's
	// progress.
	Draining bool           `json:"draining"`
	Drain    *drainProgress `json:"drain,omitempty"`
}

// totals reads the node's totals from the hub's counters.
func (a *API) totals() nodeTotals {
	counters := a.hub.Counters()
	totals := nodeTotals{
		UptimeSeconds:       float64(time.Since(a.hub.Started()).Milliseconds()) / 1000,
		ConnectionsAccepted: counters.Accepted,
		RefusedByReason:     refusalReasons.byName(&counters.Refused),
		DisconnectsByReason: disconnectReasons.byName(&counters.Disconnects),
		MessagesReceived:    counters.MessagesReceived,
		MessagesSent:        counters.MessagesSent,
	}
	for _, count := range counters.Refused {
		totals.ConnectionsRefused += count
	}
	totals.Draining = a.hub.Draining()
	if drain := a.hub.DrainStatus(); drain.Draining {
		progress := a.drainProgress(drain)
		totals.Drain = &progress
	}
	return totals
}

// serveStats answers GET /api/v1/ws/stats[?limit=N][&user_id=X] for this node, and
// ?scope=cluster with totals over every live node (cluster.go). Its cost is
// O(shards + reasons + limit): totals are kept per shard and as running counters,
// and the top users come from per-shard lists ordered by connection count, so it
// stays cheap at 1M connections.
func (a *API) serveStats(writer http.ResponseWriter, request *http.Request) {
	scope, valid := readScope(writer, request)
	if !valid {
		return
	}
	if scope == "cluster" {
		a.serveClusterStats(writer, request)
		return
	}
	query := request.URL.Query()
	response := statsResponse{
		TotalConnections: a.hub.ConnectionCount(),
		TotalUsers:       a.hub.UserCount(),
		nodeTotals:       a.totals(),
	}
	if query.Has("user_id") {
		userID := query.Get("user_id")
		sessions := a.hub.UserSessions(userID)
		response.UserID = userID
		response.ConnectionsByUser = map[string]int{userID: len(sessions)}
		response.ConnectionIDs = make([]string, 0, len(sessions))
		for _, connection := range sessions {
			response.ConnectionIDs = append(response.ConnectionIDs, connection.ID().String())
		}
		httpjson.Write(writer, http.StatusOK, response)
		return
	}
	limit := DefaultStatsLimit
	if text := query.Get("limit"); text != "" {
		parsed, err := strconv.Atoi(text)
		if err != nil || parsed < 0 || parsed > maxStatsLimit {
			writeError(writer, http.StatusBadRequest, "invalid_limit",
				"limit must be a whole number from 0 to "+strconv.Itoa(maxStatsLimit))
			return
		}
		limit = parsed
	}
	top, truncated := a.hub.TopUsers(limit)
	response.ConnectionsByUser = make(map[string]int, len(top))
	for _, user := range top {
		response.ConnectionsByUser[user.UserID] = user.Connections
	}
	response.Limit = limit
	response.Truncated = truncated
	httpjson.Write(writer, http.StatusOK, response)
}
