// Package api serves wsgate's HTTP endpoints beside the WebSocket: statistics
// (stats.go), health, the backend publish API (publish.go), channels (channels.go)
// and Prometheus metrics (metrics.go). All but health are behind an API key or, without one, a
// loopback-only rule (access.go).
package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/buildinfo"
	"github.com/wsgate/wsgate/internal/httpjson"
	"github.com/wsgate/wsgate/session"
)

// Config configures the API. Zero values mean the documented defaults.
type Config struct {
	// Hub is the registry the stats and metrics endpoints read. Required.
	Hub *session.Hub
	// Publisher delivers what the publish API is asked to send or kick, on this node
	// and, when it has a forwarder, on the other nodes of a cluster. Default: a
	// publisher for Hub alone.
	Publisher *delivery.Publisher
	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger
	// APIKey, when set, must be presented as "Authorization: Bearer <key>" to the
	// publish API, the stats endpoint and /metrics (/healthz stays open). Default
	// empty: those endpoints answer loopback clients only.
	APIKey string
	// Metrics holds the histograms /metrics exposes; pass the same value as the hub's
	// session.Config.Observer so that they fill. Default: a fresh NewMetrics, whose
	// histograms then stay empty.
	Metrics *Metrics
	// Cluster, when set, extends stats, readiness and metrics to the other nodes of
	// a cluster (see Cluster). Default nil: this node only.
	Cluster Cluster
	// DisableProfiling removes Go's profiler (/debug/pprof/, see routeProfiling):
	// its paths then answer 404. Default false: served behind the API key rule.
	DisableProfiling bool
	// Dashboard, when set, is served under /dashboard (see routeDashboard). Default
	// nil: no dashboard, those paths answer 404.
	Dashboard Dashboard
	// History is a single node's memory history store, whose figures /metrics
	// shows. Default nil: none (a cluster keeps its history in Redis).
	History *history.Memory
	// MaxBodySize is the largest request body in bytes; a larger one is answered
	// with 413, from its Content-Length before the body is read when it has one.
	// Default DefaultMaxBodySize. On wsgate's own port the engine buffers a whole
	// body before the handler runs, so give the engine the same limit
	// (engine.Config.MaxBodySize) and use Screen there.
	MaxBodySize int64
	// MetricSets are written to /metrics after the node's own families (the
	// backend callbacks' metrics, package callbacks). Default none.
	MetricSets []*metrics.Set
}

// DefaultMaxBodySize is the default of Config.MaxBodySize: 1 MiB. A full batch
// publish (MaxBatchPublications, 1000) then carries about 1 KiB per publication
// with its channel name, which is what a batch of ticker or chat updates needs;
// larger payloads belong in several requests. A body is buffered whole only after
// the route and the API key were checked (Screen), so the limit costs memory only
// for authorized backends.
const DefaultMaxBodySize = 1 << 20

// API is the HTTP handler for every non-WebSocket route. Safe for concurrent use.
type API struct {
	hub       *session.Hub
	publisher *delivery.Publisher
	logger    *slog.Logger
	routes    *router
	// public holds the routes also served where clients connect when the API has
	// a listener of its own (see Public).
	public      *router
	access      access
	maxBodySize int64
	metrics     *Metrics
	cluster     Cluster
	metricSets  []*metrics.Set
	history     *history.Memory
}

// New returns the API handler. It turns on VictoriaMetrics/metrics' process-wide
// metadata (metrics.ExposeMetadata), so the Go runtime and process families on
// /metrics carry TYPE lines too.
func New(config Config) (*API, error) {
	if config.Hub == nil {
		return nil, errors.New("api: Config.Hub is required")
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Publisher == nil {
		publisher, err := delivery.NewPublisher(delivery.Config{Hub: config.Hub, Logger: config.Logger})
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		config.Publisher = publisher
	}
	if config.MaxBodySize < 0 {
		return nil, errors.New("api: negative Config.MaxBodySize")
	}
	if config.MaxBodySize == 0 {
		config.MaxBodySize = DefaultMaxBodySize
	}
	if config.Metrics == nil {
		config.Metrics = NewMetrics()
	}
	metrics.ExposeMetadata(true)
	a := &API{hub: config.Hub, publisher: config.Publisher, logger: config.Logger, routes: newRouter(),
		public: newRouter(), access: newAccess(config.APIKey), maxBodySize: config.MaxBodySize,
		metrics: config.Metrics, cluster: config.Cluster, metricSets: config.MetricSets, history: config.History}
	for _, routes := range []*router{a.routes, a.public} {
		routes.handle("GET", "/api/v1/ws/stats", a.access.protect(a.serveStats))
		routes.handleOpen("GET", "/healthz", serveHealth)
		routes.handleOpen("GET", "/readyz", a.serveReady)
	}
	a.routes.handle("GET", "/metrics", a.access.protect(a.serveMetrics))
	if !config.DisableProfiling {
		a.routeProfiling()
	}
	a.routePublish()
	a.routeChannels()
	a.routePresence()
	a.routeDrain()
	if config.Dashboard != nil {
		a.routeDashboard(config.Dashboard)
	}
	return a, nil
}

// ServeHTTP routes a request.
func (a *API) ServeHTTP(writer http.ResponseWriter, request *http.Request) {
	a.routes.ServeHTTP(writer, request)
}

// serveHealth answers GET /healthz, open to anyone: {"status":"ok","version":...}
// while the process serves HTTP. It names the version only (not the commit or Go
// version, which /metrics gives behind the API key).
func serveHealth(writer http.ResponseWriter, _ *http.Request) {
	httpjson.Write(writer, http.StatusOK, map[string]string{"status": "ok", "version": buildinfo.Get().Version})
}

// errorResponse is the body of every API error.
type errorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(writer http.ResponseWriter, status int, code, message string) {
	httpjson.Write(writer, status, errorResponse{Error: code, Message: message})
}
