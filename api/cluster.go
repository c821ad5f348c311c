package api

import (
	"context"
	"net/http"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/internal/httpjson"
)

// Cluster is what stats, readiness and metrics need to know of a cluster of nodes
// (package cluster implements it over Redis); delivery across nodes is the
// publisher's (see Config.Publisher). Implementations must be safe for concurrent
// use.
type Cluster interface {
	// Healthy reports whether the node currently reaches the other nodes.
	Healthy() bool
	// Totals returns the live nodes (this one included), their connections and the
	// sum of their users, or an error when the other nodes could not be reached.
	Totals(ctx context.Context) (nodes, connections, users int, err error)
	// ChannelCounts returns channel's counts summed over the live nodes that
	// answered, or an error when the other nodes could not be reached.
	ChannelCounts(ctx context.Context, channel string) (channels.MergedCounts, error)
	// TopChannels lists up to limit channels whose names start with prefix by
	// subscribers summed over the live nodes that answered, or an error when the
	// other nodes could not be reached.
	TopChannels(ctx context.Context, prefix string, limit int) (channels.MergedCounts, error)
	// EachCounter calls visit for every cluster counter, for /metrics: a snake_case
	// name (exposed as wsgate_cluster_<name>_total), its help text and its value.
	EachCounter(visit func(name, help string, value uint64))
	// EachGauge calls visit for every cluster gauge, for /metrics: a snake_case name
	// (exposed as wsgate_cluster_<name>), its help text and its value.
	EachGauge(visit func(name, help string, value float64))
}

// clusterStatsResponse answers GET /api/v1/ws/stats?scope=cluster.
type clusterStatsResponse struct {
	Scope            string `json:"scope"`
	Nodes            int    `json:"nodes"`
	TotalConnections int    `json:"total_connections"`
	TotalUsers       int    `json:"total_users"`
}

// serveClusterStats answers GET /api/v1/ws/stats?scope=cluster: totals over the live
// nodes, from one Redis call. A single node is a cluster of one. When Redis cannot
// be reached it answers 503 with this node's totals.
func (a *API) serveClusterStats(writer http.ResponseWriter, request *http.Request) {
	if a.cluster == nil {
		httpjson.Write(writer, http.StatusOK, clusterStatsResponse{Scope: "cluster", Nodes: 1,
			TotalConnections: a.hub.ConnectionCount(), TotalUsers: a.hub.UserCount()})
		return
	}
	nodes, connections, users, err := a.cluster.Totals(request.Context())
	if err != nil {
		a.writeClusterUnavailable(writer, err, "the totals below are this node's", map[string]any{"scope": "node",
			"total_connections": a.hub.ConnectionCount(), "total_users": a.hub.UserCount()})
		return
	}
	httpjson.Write(writer, http.StatusOK, clusterStatsResponse{Scope: "cluster", Nodes: nodes,
		TotalConnections: connections, TotalUsers: users})
}

// The fields every answer about Redis being unreachable carries: the whole 503
// answer's (writeClusterUnavailable) and a failed batch item's (servePublishBatch).
const (
	codeClusterUnavailable    = "cluster_unavailable"
	clusterUnavailable        = "unavailable"
	messageClusterUnavailable = "Redis is unreachable: "
)

// writeClusterUnavailable answers 503 cluster_unavailable when the other nodes of
// the cluster could not be reached: figures are what this node knows or did on its
// own (its totals, its counts, or how many of its connections a delivery reached:
// a retry delivers to those again), detail says which, and the answer adds
// "error", "message" and "cluster":"unavailable" to them. err is logged at debug
// level.
func (a *API) writeClusterUnavailable(writer http.ResponseWriter, err error, detail string, figures map[string]any) {
	a.logger.Debug("cluster unavailable", "error", err.Error())
	figures["error"], figures["cluster"] = codeClusterUnavailable, clusterUnavailable
	figures["message"] = messageClusterUnavailable + detail
	httpjson.Write(writer, http.StatusServiceUnavailable, figures)
}

// writeDeliveryUnavailable answers 503 for a publish request whose cross-node part
// failed: field ("queued", "closed" or "connections") is count, what this node did.
func (a *API) writeDeliveryUnavailable(writer http.ResponseWriter, err error, field string, count int) {
	a.writeClusterUnavailable(writer, err, "delivered to this node's connections only", map[string]any{field: count})
}

// serveReady answers GET /readyz, open to everyone like /healthz: 200
// {"status":"ready"}, or 200 {"status":"degraded","redis":"unavailable"} while a
// clustered node cannot reach Redis. Degraded stays 200 because the node still serves
// its own connections, and a Redis outage that made every node unready would take
// the whole gateway out of its load balancer. From the start of a drain (or
// shutdown) it answers 503 {"status":"draining"}: the node refuses new connections.
func (a *API) serveReady(writer http.ResponseWriter, _ *http.Request) {
	if a.hub.Draining() {
		httpjson.Write(writer, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	if a.cluster != nil && !a.cluster.Healthy() {
		httpjson.Write(writer, http.StatusOK, map[string]string{"status": "degraded", "redis": "unavailable"})
		return
	}
	httpjson.Write(writer, http.StatusOK, map[string]string{"status": "ready"})
}
