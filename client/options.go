package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// Options configures a Client. Zero values mean the documented defaults. The callbacks
// are called on the goroutine that runs Run, one at a time and never concurrently; a
// callback that blocks delays reading (and so heartbeat answers) until it returns.
type Options struct {
	// URL is the WebSocket endpoint, e.g. "ws://localhost:8080/api/v1/ws". Required.
	URL string
	// Header is sent with every upgrade request (e.g. Authorization). Default none.
	Header http.Header
	// Token, when set, returns the token sent with each upgrade request as
	// "Authorization: Bearer <token>" (or as query parameter "token" with
	// TokenInQuery). It is called before the first connection and after every close
	// with a code in 4100-4199 (token expired); an error is reported to OnError and
	// retried with backoff. Default nil: no token.
	Token func(ctx context.Context) (string, error)
	// SubscriptionToken, when set, returns the subscription token sent with each
	// subscribe of a Subscription without a SubscribeOptions.Token of its own (so a
	// fresh one after every reconnect); an error is reported to the subscription's
	// OnError and retried with backoff. It runs on a goroutine of its own and should
	// return when ctx ends. Default nil: subscribes carry no token.
	SubscriptionToken func(ctx context.Context, channel string) (string, error)
	// TokenInQuery sends the token as query parameter "token" instead of the
	// Authorization header, for a proxy that drops that header. Default false: URLs
	// end up in access logs, headers do not.
	TokenInQuery bool
	// BaseDelay is the ceiling of the first reconnect delay; each further attempt
	// doubles it. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling. Default 30s.
	MaxDelay time.Duration
	// GoingAwayDelay bounds the random delay after 1001 (server shutting down), so a
	// restart is not a reconnect storm. Default 2s.
	GoingAwayDelay time.Duration
	// StableAfter is how long a connection must stay open before the attempt counter
	// resets. Default 5s.
	StableAfter time.Duration
	// ConnectTimeout bounds one dial and upgrade. Default 10s.
	ConnectTimeout time.Duration
	// WriteTimeout bounds one write; a write that takes longer drops the connection and
	// the message stays queued. Default 10s.
	WriteTimeout time.Duration
	// PingInterval and PingTimeout are the server's heartbeat settings assumed until its
	// welcome (the answer to the hello the client sends on open) says otherwise: with no
	// frame for PingInterval + PingTimeout the connection is dropped with 4000 and
	// retried. Defaults 30s and 10s, wsgate's defaults; a negative PingInterval turns
	// detection off until a welcome announces a heartbeat.
	PingInterval time.Duration
	// PingTimeout is the heartbeat timeout assumed until the welcome (see
	// PingInterval). Default 10s.
	PingTimeout time.Duration
	// QueueSize is how many messages Send keeps while they wait to be written; Send
	// returns ErrQueueFull beyond it. Default 100.
	QueueSize int
	// Rand returns a number in [0, 1) for jitter. Default math/rand/v2.Float64.
	Rand func() float64
	// Clock measures how long connections stay open and waits out reconnect delays.
	// Default the system clock. (Socket deadlines always use the system clock.)
	Clock Clock
	// Dialer dials every connection. Default a dialer with http.ProxyFromEnvironment
	// that offers permessage-deflate (EnableCompression), so a server run with
	// -compression sends it large messages compressed (the client's own messages go
	// uncompressed); a Dialer given here negotiates compression only if its own
	// EnableCompression is set.
	Dialer *websocket.Dialer

	// OnOpen is called when a connection is open and has said hello; queued messages
	// are being written meanwhile.
	OnOpen func()
	// OnWelcome is called with the server's answer to hello.
	OnWelcome func(Welcome)
	// OnMessage is called for every server message except ping, welcome and the
	// messages of channels (subscribed, unsubscribed, publication, published, and
	// errors of channel requests), which go to the callbacks below and to
	// subscriptions.
	OnMessage func(Message)
	// OnClose is called whenever a connection or connection attempt ends.
	OnClose func(CloseEvent)
	// OnReconnecting is called when a reconnect is scheduled: attempt is 1 for the first
	// after a stable connection, delay is the wait before it.
	OnReconnecting func(attempt int, delay time.Duration)
	// OnError is called for errors that do not end a connection attempt by themselves:
	// a failing Token, a server message that is not a JSON object with a type, a
	// *ChannelError for a refused Publish (its ID is the publish's), and the errors of
	// subscriptions without an OnError of their own.
	OnError func(error)
	// OnSubscribed is called when the server subscribes the connection to a channel by
	// itself (the token's channels, the backend API); its publications go to
	// OnPublication. Subscriptions made with Subscribe have their own callback.
	OnSubscribed func(Subscribed)
	// OnUnsubscribed is called when the server ends one of its own subscriptions of the
	// connection.
	OnUnsubscribed func(Unsubscribed)
	// OnPublication receives the publications of channels without a Subscription of
	// this Client: those the server subscribed the connection to by itself. Default
	// nil: they are dropped.
	OnPublication func(Publication)
}

// Defaults of Options.
const (
	DefaultBaseDelay      = 500 * time.Millisecond
	DefaultMaxDelay       = 30 * time.Second
	DefaultGoingAwayDelay = 2 * time.Second
	DefaultStableAfter    = 5 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultPingTimeout    = 10 * time.Second
	DefaultQueueSize      = 100
)

// withDefaults validates options and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	address, err := url.Parse(o.URL)
	if err != nil {
		return o, fmt.Errorf("client: Options.URL: %w", err)
	}
	if address.Scheme != "ws" && address.Scheme != "wss" {
		return o, fmt.Errorf("client: Options.URL %q: scheme must be ws or wss", o.URL)
	}
	if o.BaseDelay < 0 || o.MaxDelay < 0 || o.GoingAwayDelay < 0 || o.StableAfter < 0 ||
		o.ConnectTimeout < 0 || o.WriteTimeout < 0 || o.PingTimeout < 0 || o.QueueSize < 0 {
		return o, errors.New("client: negative value in Options")
	}
	defaultDuration(&o.BaseDelay, DefaultBaseDelay)
	defaultDuration(&o.MaxDelay, DefaultMaxDelay)
	defaultDuration(&o.GoingAwayDelay, DefaultGoingAwayDelay)
	defaultDuration(&o.StableAfter, DefaultStableAfter)
	defaultDuration(&o.ConnectTimeout, DefaultConnectTimeout)
	defaultDuration(&o.WriteTimeout, DefaultWriteTimeout)
	defaultDuration(&o.PingInterval, DefaultPingInterval)
	defaultDuration(&o.PingTimeout, DefaultPingTimeout)
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Dialer == nil {
		o.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, EnableCompression: true}
	}
	return o, nil
}

func defaultDuration(value *time.Duration, fallback time.Duration) {
	if *value == 0 {
		*value = fallback
	}
}

// heartbeatWindow is how long the connection may stay silent before it counts as dead,
// from the configured fallbacks; 0 means no detection.
func (o Options) heartbeatWindow() time.Duration {
	if o.PingInterval < 0 {
		return 0
	}
	return o.PingInterval + o.PingTimeout
}
