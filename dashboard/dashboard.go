// Package dashboard is wsgate's live dashboard: a page embedded in the binary
// (assets.go) that shows a node and its cluster, updated once a second over
// server-sent events (stream.go), with an hour of history kept in the node (ring.go)
// and a search for connections to kick (search.go). One sampler goroutine per node
// reads the hub's running counters once a second (sampler.go); every viewer gets the
// same encoded update. The API serves it under /dashboard behind its access rule
// (api.Dashboard); docs/operations.md describes it for operators.
package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/session"
)

// Cluster is what the dashboard shows of a cluster: its nodes (package cluster's
// Node implements it). Implementations must be safe for concurrent use.
type Cluster interface {
	// Nodes lists the cluster's nodes, this one first, or fails when the other
	// nodes cannot be reached.
	Nodes(ctx context.Context) ([]cluster.NodeStatus, error)
}

// Config configures a Dashboard. Zero values mean the documented defaults.
type Config struct {
	// Hub is the registry the dashboard reads. Required.
	Hub *session.Hub
	// Publisher gives the channel listing. Required.
	Publisher *delivery.Publisher
	// Latencies gives the fan-out and ping round-trip latencies; set the same value
	// as the hub's session.Config.Observer. Default: a Latencies that nothing feeds,
	// so the latency chart stays empty.
	Latencies *Latencies
	// Cluster, when set, adds the cluster's nodes. Default nil: a single node.
	Cluster Cluster
	// MaxViewers bounds the pages streaming at once (each holds one goroutine and
	// one socket); one more is answered 503. Default DefaultMaxViewers.
	MaxViewers int
	// Logger receives the dashboard's logs (viewers coming and going, at debug
	// level; never a request header). Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxViewers = 32
	// HistorySeconds is how many seconds of history the dashboard keeps and a new
	// page shows at once: an hour.
	HistorySeconds = 3600
	// TopLimit is how many users and channels the dashboard lists.
	TopLimit = 10
)

// Dashboard samples a node once a second and serves the dashboard's page, stream
// and search. Create it with New, Start it with the node and Close it when the node
// shuts down. Its methods are safe for concurrent use.
type Dashboard struct {
	config  Config
	history *ring
	// sampler is the sampler goroutine's own state.
	sampler sampler
	// latest is the newest update every viewer writes; its next channel is closed
	// when a newer one replaces it.
	latest atomic.Pointer[update]
	// historyCache is the encoded history of the newest sample, shared by the
	// viewers that open within the same second.
	historyCache struct {
		sync.Mutex
		second  int64
		payload []byte
	}
	viewers struct {
		sync.Mutex
		open   map[net.Conn]struct{}
		closed bool
	}
	// viewing counts the open viewers, so the sampler skips encoding updates that
	// nobody reads.
	viewing atomic.Int32

	stop      chan struct{}
	workers   sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// New returns a Dashboard for config; it samples nothing until Start.
func New(config Config) (*Dashboard, error) {
	switch {
	case config.Hub == nil:
		return nil, errors.New("dashboard: Config.Hub is required")
	case config.Publisher == nil:
		return nil, errors.New("dashboard: Config.Publisher is required")
	case config.MaxViewers < 0:
		return nil, errors.New("dashboard: negative Config.MaxViewers")
	}
	if config.Latencies == nil {
		config.Latencies = NewLatencies(nil)
	}
	if config.MaxViewers == 0 {
		config.MaxViewers = DefaultMaxViewers
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	d := &Dashboard{config: config, history: newRing(seriesCount, HistorySeconds), stop: make(chan struct{})}
	d.latest.Store(&update{next: make(chan struct{})})
	d.viewers.open = make(map[net.Conn]struct{})
	return d, nil
}

// HistoryBytes returns the memory the history takes, in bytes: one uint32 per
// series and second, 288,000 bytes for the 20 series of an hour.
func (d *Dashboard) HistoryBytes() int { return d.history.bytes() }

// Start starts the sampler goroutine. Only the first call has an effect.
func (d *Dashboard) Start() {
	d.startOnce.Do(func() {
		d.workers.Go(d.sampleEverySecond)
	})
}

// Close stops the sampler and ends every viewer's stream, then waits for their
// goroutines. Only the first call has an effect; a Dashboard that was never started
// can be closed too, and a Start after Close starts nothing.
func (d *Dashboard) Close() {
	d.closeOnce.Do(func() {
		d.startOnce.Do(func() {})
		close(d.stop)
		d.viewers.Lock()
		d.viewers.closed = true
		open := make([]net.Conn, 0, len(d.viewers.open))
		for conn := range d.viewers.open {
			open = append(open, conn)
		}
		d.viewers.Unlock()
		for _, conn := range open {
			_ = conn.Close()
		}
		d.workers.Wait()
	})
}
