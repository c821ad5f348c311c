package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/cluster"
)

// sources tells where each flag's value came from, so that an error names what the
// user wrote: the flag, the WSGATE_* variable, or the key on a line of the file.
type sources struct {
	flags           *flag.FlagSet
	fromEnvironment map[string]bool
	// fromFile holds the line of each flag the -config file set; file is its path.
	fromFile map[string]int
	file     string
}

// hiddenValues are the flags whose value is a credential, never shown in an error.
var hiddenValues = map[string]bool{"jwt-secret": true, "api-key": true, "callback-secret": true, "callback-key": true}

// invalid returns the error for the current value of flag name: `-name value:
// problem`, `WSGATE_NAME=value: problem` when the value came from the variable, or
// `file:line: name: value: problem` when it came from the -config file.
// Text values are quoted, credentials hidden, and a Redis URL's password masked.
func (s sources) invalid(name, problem string) error {
	f := s.flags.Lookup(name)
	value := f.Value.String()
	_, isText := f.Value.(flag.Getter).Get().(string)
	switch {
	case hiddenValues[name]:
		value = "(value hidden)"
	case name == "redis-url":
		value = redactedURL(value)
	case isText:
		value = strconv.Quote(value)
	}
	if s.fromEnvironment[name] {
		return fmt.Errorf("%s=%s: %s", environmentName(name), value, problem)
	}
	if line, fromFile := s.fromFile[name]; fromFile {
		return fmt.Errorf("%s:%d: %s: %s: %s", s.file, line, name, value, problem)
	}
	return fmt.Errorf("-%s %s: %s", name, value, problem)
}

// redactedURL returns address quoted, with any password replaced by "xxxxx"; an
// address that does not parse is hidden, since it may hold a password.
func redactedURL(address string) string {
	parsed, err := url.Parse(address)
	if err != nil {
		return "(value hidden: not a URL)"
	}
	return strconv.Quote(parsed.Redacted())
}

// validate checks every value alone, then the combinations; the first problem is
// returned, naming the flag (or variable) at fault and its value.
func (o options) validate(at sources) error {
	if err := checkAddr(o.addr); err != nil {
		return at.invalid("addr", err.Error())
	}
	if o.apiAddr != "" {
		if err := checkAddr(o.apiAddr); err != nil {
			return at.invalid("api-addr", err.Error())
		}
	}
	var level slog.Level
	switch {
	case o.maxBodySize <= 0:
		return at.invalid("max-body-size", "must be positive")
	case o.maxConnectionsPerUser < 0:
		return at.invalid("max-conns-per-user", "must be 0 (unlimited) or more")
	case o.maxConnections < 0:
		return at.invalid("max-connections", "must be 0 (no limit) or more")
	case o.maxMessageSize <= 0:
		return at.invalid("max-message-size", "must be positive")
	case o.compressionMinSize < 0:
		return at.invalid("compression-min-size", "must be 0 (every message) or more")
	case o.maxPendingBytes < o.maxMessageSize:
		return at.invalid("max-pending-bytes", fmt.Sprintf("must be at least -max-message-size (%d)", o.maxMessageSize))
	case o.socketSendBuffer < 0:
		return at.invalid("socket-send-buffer", "must be 0 (kernel autotuning) or more")
	case o.writeDelay < 0:
		return at.invalid("write-delay", "must be 0 or more")
	case o.maxFanoutDelay < 0:
		return at.invalid("max-fanout-delay", "must be 0 (write every fan-out at once) or more")
	case o.maxMessagesPerSecond < 0:
		return at.invalid("max-messages-per-second", "must be 0 (unlimited) or more")
	case o.messageBurst < 0:
		return at.invalid("message-burst", "must be 0 (twice the rate) or more")
	case o.pingInterval < 0:
		return at.invalid("ping-interval", "must be positive, or 0 for no heartbeat")
	case o.pingTimeout <= 0:
		return at.invalid("ping-timeout", "must be positive")
	case o.handshakeTimeout <= 0:
		return at.invalid("handshake-timeout", "must be positive")
	case o.shutdownTimeout <= 0:
		return at.invalid("shutdown-timeout", "must be positive")
	case o.drainDuration < 0:
		return at.invalid("drain-duration", "must be 0 (the shutdown timeout) or more")
	case o.maxConnectsPerSecond < 0:
		return at.invalid("max-connects-per-second", "must be 0 (unlimited) or more")
	case level.UnmarshalText([]byte(o.logLevel)) != nil:
		return at.invalid("log-level", "must be debug, info, warn or error")
	case o.logFormat != "text" && o.logFormat != "json":
		return at.invalid("log-format", "must be text or json")
	case o.jwtSecret != "" && len(o.jwtSecret) < auth.MinimumSecretSize:
		return at.invalid("jwt-secret", fmt.Sprintf("must be at least %d bytes, it has %d", auth.MinimumSecretSize, len(o.jwtSecret)))
	case o.clusterLease < cluster.MinLease:
		return at.invalid("cluster-lease", fmt.Sprintf("must be at least %v", cluster.MinLease))
	case o.maxSubscriptionsPerConnection < 0:
		return at.invalid("max-subscriptions-per-connection", "must be 0 (unlimited) or more")
	case o.historyMaxBytes < 1:
		return at.invalid("history-max-bytes", "must be positive")
	case o.joinLeaveRate < 1:
		return at.invalid("join-leave-rate", "must be positive")
	case o.presenceDiffPeriod < 10*time.Millisecond:
		return at.invalid("presence-diff-period", "must be at least 10ms")
	case o.presenceDiffMaxUsers < 1:
		return at.invalid("presence-diff-max-users", "must be positive")
	case o.clientBroadcast != broadcastByGrant && o.clientBroadcast != broadcastEveryone:
		return at.invalid("client-broadcast", "must be grant or everyone")
	}
	if _, err := auth.NewOriginPolicy(auth.OriginConfig{Allowed: o.origins()}); err != nil {
		return at.invalid("allowed-origins", err.Error())
	}
	if o.redisURL != "" {
		if err := cluster.CheckURL(o.redisURL); err != nil {
			return at.invalid("redis-url", err.Error())
		}
	}
	if err := o.validateCallbacks(at); err != nil {
		return err
	}
	return o.validateCombinations()
}

// validateCallbacks checks the backend callbacks' settings, in the order of the
// flag list.
func (o options) validateCallbacks(at sources) error {
	for _, setting := range []struct{ name, address string }{{"connect-url", o.connectURL}, {"rpc-url", o.rpcURL},
		{"subscribe-url", o.subscribeURL}, {"publish-url", o.publishURL}, {"events-url", o.eventsURL}} {
		if setting.address == "" {
			continue
		}
		if parsed, err := url.Parse(setting.address); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return at.invalid(setting.name, "must be an http:// or https:// URL")
		}
	}
	switch {
	case o.callbackWorkers <= 0:
		return at.invalid("callback-workers", "must be positive")
	case o.callbackQueue <= 0:
		return at.invalid("callback-queue", "must be positive")
	case o.eventsBatchSize <= 0:
		return at.invalid("events-batch-size", "must be positive")
	case o.eventsQueueSize <= 0:
		return at.invalid("events-queue-size", "must be positive")
	case o.callbackTimeout <= 0:
		return at.invalid("callback-timeout", "must be positive")
	case o.eventsBatchDelay <= 0:
		return at.invalid("events-batch-delay", "must be positive")
	case o.maxRPCsPerConnection < 0:
		return at.invalid("max-rpcs-per-connection", "must be 0 (unlimited) or more")
	}
	return nil
}

// validateCombinations checks the flags that depend on or exclude each other.
func (o options) validateCombinations() error {
	switch {
	case o.jwtSecret != "" && o.jwtPublicKey != "":
		return errors.New("-jwt-secret and -jwt-public-key exclude each other")
	case o.insecureUserID && (o.jwtSecret != "" || o.jwtPublicKey != ""):
		return errors.New("-insecure-user-id cannot be combined with JWT (-jwt-secret or -jwt-public-key)")
	case (o.jwtAudience != "" || o.jwtIssuer != "") && o.jwtSecret == "" && o.jwtPublicKey == "":
		return errors.New("-jwt-audience and -jwt-issuer need -jwt-secret or -jwt-public-key")
	case o.nodeID != "" && o.redisURL == "":
		return errors.New("-node-id needs -redis-url")
	}
	return nil
}

// checkAddr says why addr cannot be listened on, without listening: it must be
// host:port with a port number (or a service name the system knows).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}
