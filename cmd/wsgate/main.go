// Command wsgate runs the WebSocket gateway: `wsgate -h` lists every flag with its
// default and environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/buildinfo"
	"github.com/wsgate/wsgate/session"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run starts the server and blocks until ctx is done, then shuts down gracefully. It
// returns the process exit code: 0 after a clean shutdown, 2 for bad flags, 1 for
// any other failure. -version and -healthcheck print to stdout; usage, errors and
// logs go to output.
func run(ctx context.Context, arguments []string, lookup func(string) (string, bool), stdout, output io.Writer) int {
	parsed, err := parseOptions(arguments, lookup, output)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil && parsed.printVersion {
		fmt.Fprintln(stdout, buildinfo.Get())
		return 0
	}
	if err == nil && parsed.healthcheck {
		return healthcheck(ctx, parsed.addr, stdout, output)
	}
	if err != nil {
		fmt.Fprintf(output, "wsgate: %v\n", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintln(output, "run wsgate -h for the flag list")
		}
		return 2
	}
	logger := newLogger(parsed, output)
	if err := serve(ctx, parsed, logger); err != nil {
		logger.Error("wsgate failed", "error", err.Error())
		return 1
	}
	return 0
}

// newLogger returns the logger -log-level and -log-format ask for; validate has
// checked both.
func newLogger(parsed options, output io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(parsed.logLevel))
	handlerOptions := &slog.HandlerOptions{Level: level}
	if parsed.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(output, handlerOptions))
	}
	return slog.New(slog.NewTextHandler(output, handlerOptions))
}

func serve(ctx context.Context, parsed options, logger *slog.Logger) error {
	pingInterval := parsed.pingInterval
	if pingInterval == 0 {
		pingInterval = session.Off
	}
	maxFanoutDelay := parsed.maxFanoutDelay
	if maxFanoutDelay == 0 {
		maxFanoutDelay = session.Off
	}
	jwtConfig, err := parsed.jwtConfig()
	if err != nil {
		return err
	}
	node, err := gateway.New(gateway.Config{
		Session: session.Config{
			MaxConnectionsPerUser: unlimitedIfZero(parsed.maxConnectionsPerUser),
			MaxConnections:        parsed.maxConnections,
			MaxConnectsPerSecond:  unlimitedIfZero(parsed.maxConnectsPerSecond),
			DrainDuration:         parsed.drainDurationOrDefault(),
			PingInterval:          pingInterval,
			PingTimeout:           parsed.pingTimeout,
			MaxPendingBytes:       parsed.maxPendingBytes,
			WriteDelay:            parsed.writeDelay,
			MaxFanoutDelay:        maxFanoutDelay,
			MaxMessagesPerSecond:  unlimitedIfZero(parsed.maxMessagesPerSecond),
			MessageBurst:          parsed.messageBurst,
			CompressionMinSize:    max(parsed.compressionMinSize, 1),
		},
		Engine: engine.Config{
			Addr:             parsed.addr,
			MaxBodySize:      parsed.maxBodySize,
			MaxMessageSize:   parsed.maxMessageSize,
			Compression:      parsed.compression,
			HandshakeTimeout: parsed.handshakeTimeout,
			SocketSendBuffer: parsed.socketSendBuffer,
		},
		APIAddr:          parsed.apiAddr,
		InsecureUserID:   parsed.insecureUserID,
		JWT:              jwtConfig,
		APIKey:           parsed.apiKey,
		DisableProfiling: !parsed.pprof,
		AllowedOrigins:   parsed.origins(),
		Cluster:          cluster.Config{RedisURL: parsed.redisURL, NodeID: parsed.nodeID, Lease: parsed.clusterLease},
		Logger:           logger,

		// Channels: the flags' 0 ("unlimited") maps onto a negative limit.
		Namespaces:                    parsed.namespaces,
		MaxSubscriptionsPerConnection: parsed.subscriptionLimit(),
		EveryClientMayBroadcast:       parsed.everyClientMayBroadcast(),
		Callbacks:                     parsed.callbacksConfig(),
		History:                       history.MemoryConfig{MaxBytes: parsed.historyMaxBytes},
		Presence: gateway.PresenceConfig{JoinLeaveRate: parsed.joinLeaveRate, DiffPeriod: parsed.presenceDiffPeriod,
			DiffMaxUsers: parsed.presenceDiffMaxUsers},
	})
	if err != nil {
		return err
	}
	if err := node.Start(); err != nil {
		return err
	}
	logger.Info("wsgate listening", "addr", node.Addr().String(), "version", buildinfo.Get().Version, "websocket", engine.DefaultPath,
		"max_conns_per_user", parsed.maxConnectionsPerUser, "ping_interval", parsed.pingInterval.String())
	if apiAddr := node.APIAddr(); apiAddr != nil {
		logger.Info("API listening on its own address", "api_addr", apiAddr.String())
	}
	if parsed.insecureUserID {
		logger.Warn("-insecure-user-id is set: any client can claim any user id with ?user_id=")
	}
	if !jwtConfig.Enabled() {
		logger.Warn("no -jwt-secret or -jwt-public-key: clients are not authenticated")
	}
	if parsed.apiKey == "" {
		protected := "the publish API, stats, metrics and pprof"
		if !parsed.pprof {
			protected = "the publish API, stats and metrics"
		}
		logger.Warn("no -api-key: " + protected + " answer loopback clients only")
	}
	if node.Cluster != nil {
		logger.Info("cluster enabled through Redis", "node_id", node.Cluster.ID(), "lease", parsed.clusterLease.String())
	}
	<-ctx.Done()
	logger.Info("shutting down", "drain", parsed.drainDurationOrDefault().String(), "timeout", parsed.shutdownTimeout.String())
	started := time.Now()
	cut := node.DrainAndShutdown(parsed.drainDurationOrDefault(), parsed.shutdownTimeout)
	logger.Info("stopped", "connections_cut", cut, "took", time.Since(started).Round(time.Millisecond).String())
	return nil
}

// drainDurationOrDefault is -drain-duration, whose 0 means -shutdown-timeout.
func (o options) drainDurationOrDefault() time.Duration {
	if o.drainDuration == 0 {
		return o.shutdownTimeout
	}
	return o.drainDuration
}

// unlimitedIfZero maps a flag's documented 0 ("unlimited") onto session.Unlimited:
// in session.Config a zero value means the default instead.
func unlimitedIfZero[T int | float64](value T) T {
	if value == 0 {
		return session.Unlimited
	}
	return value
}
