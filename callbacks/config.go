package callbacks

import (
	"cmp"
	"errors"
	"log/slog"
	"time"
)

// Defaults of Config; a zero field means its default.
const (
	// DefaultTimeout bounds one call: connection, request and answer.
	DefaultTimeout = time.Second
	// DefaultWorkers is the number of calls in flight at once, and of keep-alive
	// connections kept to the backend.
	DefaultWorkers = 32
	// DefaultQueueSize is the number of calls waiting for a worker; beyond it Go
	// fails with ErrQueueFull.
	DefaultQueueSize = 1024
	// DefaultMaxRequestSize bounds a request body, in bytes (64 KiB): larger bodies
	// fail with ErrRequestTooLarge before any request is made.
	DefaultMaxRequestSize = 64 << 10
	// DefaultMaxAnswerSize bounds an answer body, in bytes (64 KiB): a longer answer
	// is a malformed answer for its call.
	DefaultMaxAnswerSize = 64 << 10
	// DefaultBreakerThreshold is the number of consecutive failed calls of one
	// Endpoint that open its circuit breaker.
	DefaultBreakerThreshold = 5
	// DefaultBreakerCooldown is how long an open breaker fails calls fast before it
	// lets one probe call through.
	DefaultBreakerCooldown = 5 * time.Second
)

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	// Secret, when set, signs every request body: X-Wsgate-Signature: sha256=<hex of
	// HMAC-SHA256(Secret, body)>. Default empty: no signature.
	Secret []byte
	// BearerKey, when set, is sent as Authorization: Bearer <key>. Default empty.
	BearerKey string
	// Timeout bounds one call from the moment a worker takes it. Default
	// DefaultTimeout (1 s).
	Timeout time.Duration
	// Workers is the number of worker goroutines, hence of calls in flight at once.
	// Default DefaultWorkers (32).
	Workers int
	// QueueSize is the number of calls that may wait for a worker. Default
	// DefaultQueueSize (1024).
	QueueSize int
	// MaxRequestSize and MaxAnswerSize bound request and answer bodies, in bytes.
	// Defaults DefaultMaxRequestSize and DefaultMaxAnswerSize (64 KiB each).
	MaxRequestSize, MaxAnswerSize int
	// BreakerThreshold is the number of consecutive failures (transport error,
	// timeout, a status other than 2xx, a malformed answer) that open an Endpoint's
	// breaker. Default DefaultBreakerThreshold (5).
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker fails calls at once before one
	// probe is let through; the probe's success closes it, its failure opens it for
	// another cooldown. Default DefaultBreakerCooldown (5 s).
	BreakerCooldown time.Duration
	// Logger receives breaker transitions. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns config with every zero field set to its default.
func (config Config) withDefaults() Config {
	config.Timeout = cmp.Or(config.Timeout, DefaultTimeout)
	config.Workers = cmp.Or(config.Workers, DefaultWorkers)
	config.QueueSize = cmp.Or(config.QueueSize, DefaultQueueSize)
	config.MaxRequestSize = cmp.Or(config.MaxRequestSize, DefaultMaxRequestSize)
	config.MaxAnswerSize = cmp.Or(config.MaxAnswerSize, DefaultMaxAnswerSize)
	config.BreakerThreshold = cmp.Or(config.BreakerThreshold, DefaultBreakerThreshold)
	config.BreakerCooldown = cmp.Or(config.BreakerCooldown, DefaultBreakerCooldown)
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	return config
}

// Validate reports the first field that New would refuse: every number must be
// zero (the default) or positive.
func (config Config) Validate() error {
	switch {
	case config.Timeout < 0:
		return errors.New("callbacks: Config.Timeout must be positive")
	case config.Workers < 0:
		return errors.New("callbacks: Config.Workers must be positive")
	case config.QueueSize < 0:
		return errors.New("callbacks: Config.QueueSize must be positive")
	case config.MaxRequestSize < 0 || config.MaxAnswerSize < 0:
		return errors.New("callbacks: Config.MaxRequestSize and MaxAnswerSize must be positive")
	case config.BreakerThreshold < 0:
		return errors.New("callbacks: Config.BreakerThreshold must be positive")
	case config.BreakerCooldown < 0:
		return errors.New("callbacks: Config.BreakerCooldown must be positive")
	}
	return nil
}
