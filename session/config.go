package session

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/bits"
	"runtime"
	"time"
)

// Config configures a Hub. A zero value means what the wsgate binary does without
// flags (its defaults are these constants); Unlimited and Off say explicitly that a
// limit or a feature is not wanted.
type Config struct {
	// Shards is the number of registry shards, rounded up to a power of two.
	// Default 64: enough that 2 to 64 cores rarely meet on one lock.
	Shards int
	// MaxConnectionsPerUser caps one user's connections on this node (in a cluster
	// with Admission, on all nodes together); more are refused with 1008. Default
	// DefaultMaxConnectionsPerUser (5); Unlimited for no cap. Anonymous connections
	// are not counted per user.
	MaxConnectionsPerUser int
	// MaxConnections caps all connections on this node; more are refused with 1013.
	// Default (0) and Unlimited: no cap but the process's open-files limit.
	MaxConnections int
	// MaxConnectsPerSecond caps new connections on this node per second (a token
	// bucket holding one second's worth, at least 1); more are refused with 1013
	// "too many connects" before their credentials are verified (see
	// Transport.Admit). Default (0) and Unlimited: no limit.
	MaxConnectsPerSecond float64
	// DrainDuration is the time Drain(0) spreads the closing of the connections
	// over. Default DefaultDrainDuration (10s).
	DrainDuration time.Duration
	// PingInterval is the time between two heartbeat pings to one connection.
	// Default DefaultPingInterval (30s); Off disables the heartbeat.
	PingInterval time.Duration
	// PingTimeout is how long after a ping the connection must have sent any frame.
	// Default DefaultPingTimeout (10s).
	PingTimeout time.Duration
	// CloseGrace is how long a server-initiated close waits for the client's close
	// frame before the socket is closed anyway. Default 2s.
	CloseGrace time.Duration
	// TimerTick is the timer wheel's resolution. Default 100ms.
	TimerTick time.Duration
	// Logger receives connection logs. Default slog.Default().
	Logger *slog.Logger
	// Observer receives fan-out and ping timings for metrics. Default: none.
	Observer Observer
	// MaxPendingBytes bounds the bytes queued for one connection that its socket has
	// not taken; a send over it closes the connection as a slow consumer (4001).
	// Default DefaultMaxPendingBytes (1 MiB): at 1M connections the worst case is
	// bounded by how many clients stall at once, never by how long they stall. At
	// most 1 GiB; there is no unlimited.
	MaxPendingBytes int
	// WriteDelay makes the flush workers linger this long after being woken, so that
	// more frames for the same connection join one write. Default 0: write at once
	// (frames still coalesce whenever the workers fall behind).
	WriteDelay time.Duration
	// MaxFanoutDelay bounds how long a fan-out's frames (Broadcast, SendToSessions)
	// may wait so that fan-outs arriving back to back share writes: after a fan-out
	// round that kept a flush worker busy for d, its next round starts 4 x d after
	// this one started, or MaxFanoutDelay after, whichever is sooner (writer.go). A
	// fan-out after a quiet spell is written at once; frames sent to one connection
	// are never delayed. Default DefaultMaxFanoutDelay (250ms); Off writes every
	// fan-out at once.
	MaxFanoutDelay time.Duration
	// FlushWorkers is the number of goroutines that write queued frames. Default
	// GOMAXPROCS.
	FlushWorkers int
	// MaxMessagesPerSecond is the inbound rate limit per connection (token bucket,
	// refilled on arrival, no timer); over it a message is dropped with a
	// rate_limited error. Default DefaultMaxMessagesPerSecond (100); Unlimited for
	// no limit.
	MaxMessagesPerSecond float64
	// MessageBurst is the token bucket's size. Default: 2 x MaxMessagesPerSecond (at
	// least 1).
	MessageBurst int
	// Admission, when set, counts users' connections across a cluster of nodes and
	// enforces MaxConnectionsPerUser cluster-wide (see Admission). Default nil: one
	// node, the limit holds per node.
	Admission Admission
	// CompressionMinSize is the smallest payload, in bytes, compressed for the
	// connections that negotiated permessage-deflate (see DeflateConn); smaller
	// messages go uncompressed, since compression saves little on them and costs the
	// same call. Default DefaultCompressionMinSize (256).
	CompressionMinSize int
	// NodeTag, when not zero, starts every connection id this hub issues, so a cluster
	// routes messages for a connection to its node by the id alone. Default zero:
	// fully random ids.
	NodeTag NodeTag
}

// Unlimited, as a limit of Config, removes the limit; Off, as PingInterval, turns
// the heartbeat off. Zero means the default instead.
const (
	Unlimited = -1
	Off       = -1
)

// Defaults of Config, exported so flags and docs show the same values.
const (
	DefaultShards                = 64
	DefaultMaxConnectionsPerUser = 5
	DefaultMaxMessagesPerSecond  = 100
	DefaultPingInterval          = 30 * time.Second
	DefaultPingTimeout           = 10 * time.Second
	DefaultCloseGrace            = 2 * time.Second
	DefaultTimerTick             = 100 * time.Millisecond
	DefaultMaxPendingBytes       = 1 << 20
	DefaultDrainDuration         = 10 * time.Second
	DefaultMaxFanoutDelay        = 250 * time.Millisecond
	DefaultCompressionMinSize    = 256
	// MaxPendingBytesLimit bounds Config.MaxPendingBytes (1 GiB), so a connection's
	// queued byte count fits 32 bits.
	MaxPendingBytesLimit = 1 << 30
)

// What Validate's errors say a field must be.
const (
	wantCount    = "0 (the default) or more"
	wantLimit    = "0 (the default), a positive limit or Unlimited (-1)"
	wantInterval = "0 (the default), a positive duration or Off (-1)"
)

// Validate reports the first field of config that NewHub would refuse, by name and
// value: a negative value other than Unlimited or Off where those are allowed, or
// MaxPendingBytes over MaxPendingBytesLimit.
func (config Config) Validate() error {
	switch {
	case config.Shards < 0:
		return fieldError("Shards", config.Shards, wantCount)
	case config.MaxConnectionsPerUser < Unlimited:
		return fieldError("MaxConnectionsPerUser", config.MaxConnectionsPerUser, wantLimit)
	case config.MaxConnections < Unlimited:
		return fieldError("MaxConnections", config.MaxConnections, wantLimit)
	case config.MaxConnectsPerSecond < 0 && config.MaxConnectsPerSecond != Unlimited:
		return fieldError("MaxConnectsPerSecond", config.MaxConnectsPerSecond, wantLimit)
	case config.DrainDuration < 0:
		return fieldError("DrainDuration", config.DrainDuration, wantCount)
	case config.PingInterval < 0 && config.PingInterval != Off:
		return fieldError("PingInterval", config.PingInterval, wantInterval)
	case config.PingTimeout < 0:
		return fieldError("PingTimeout", config.PingTimeout, wantCount)
	case config.CloseGrace < 0:
		return fieldError("CloseGrace", config.CloseGrace, wantCount)
	case config.TimerTick < 0:
		return fieldError("TimerTick", config.TimerTick, wantCount)
	case config.MaxPendingBytes < 0 || config.MaxPendingBytes > MaxPendingBytesLimit:
		return fieldError("MaxPendingBytes", config.MaxPendingBytes, "0 (the default) up to 1 GiB")
	case config.WriteDelay < 0:
		return fieldError("WriteDelay", config.WriteDelay, wantCount)
	case config.MaxFanoutDelay < 0 && config.MaxFanoutDelay != Off:
		return fieldError("MaxFanoutDelay", config.MaxFanoutDelay, wantInterval)
	case config.FlushWorkers < 0:
		return fieldError("FlushWorkers", config.FlushWorkers, wantCount)
	case config.MaxMessagesPerSecond < 0 && config.MaxMessagesPerSecond != Unlimited:
		return fieldError("MaxMessagesPerSecond", config.MaxMessagesPerSecond, wantLimit)
	case config.MessageBurst < 0:
		return fieldError("MessageBurst", config.MessageBurst, wantCount)
	case config.CompressionMinSize < 0:
		return fieldError("CompressionMinSize", config.CompressionMinSize, wantCount)
	}
	return nil
}

func fieldError(name string, value any, want string) error {
	return fmt.Errorf("session: Config.%s is %v; want %s", name, value, want)
}

// withDefaults returns config, which Validate accepted, with every zero value
// replaced by its default and every "no limit" spelled Unlimited (so MaxConnections
// 0 reads Unlimited in Hub.Config).
func (config Config) withDefaults() Config {
	config.Shards = 1 << bits.Len(uint(cmp.Or(config.Shards, DefaultShards)-1))
	config.MaxConnectionsPerUser = cmp.Or(config.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)
	config.MaxConnections = cmp.Or(config.MaxConnections, Unlimited)
	config.MaxConnectsPerSecond = cmp.Or(config.MaxConnectsPerSecond, Unlimited)
	config.DrainDuration = cmp.Or(config.DrainDuration, DefaultDrainDuration)
	config.PingInterval = cmp.Or(config.PingInterval, DefaultPingInterval)
	config.PingTimeout = cmp.Or(config.PingTimeout, DefaultPingTimeout)
	config.CloseGrace = cmp.Or(config.CloseGrace, DefaultCloseGrace)
	config.TimerTick = cmp.Or(config.TimerTick, DefaultTimerTick)
	config.MaxPendingBytes = cmp.Or(config.MaxPendingBytes, DefaultMaxPendingBytes)
	config.FlushWorkers = cmp.Or(config.FlushWorkers, runtime.GOMAXPROCS(0))
	config.MaxFanoutDelay = cmp.Or(config.MaxFanoutDelay, DefaultMaxFanoutDelay)
	config.MaxMessagesPerSecond = cmp.Or(config.MaxMessagesPerSecond, DefaultMaxMessagesPerSecond)
	if config.MaxMessagesPerSecond > 0 && config.MessageBurst == 0 {
		config.MessageBurst = max(int(2*config.MaxMessagesPerSecond), 1)
	}
	config.CompressionMinSize = cmp.Or(config.CompressionMinSize, DefaultCompressionMinSize)
	config.Logger = cmp.Or(config.Logger, slog.Default())
	config.Observer = cmp.Or[Observer](config.Observer, noObserver{})
	return config
}
