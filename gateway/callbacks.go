package gateway

import (
	"cmp"
	"context"
	"time"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/engine"
)

// CallbacksConfig configures the calls a node makes to the application's backend
// (package callbacks; docs/integration.md). Zero values mean the documented
// defaults; without a URL nothing is called.
type CallbacksConfig struct {
	// ConnectURL is asked about every upgraded connection before it is registered
	// (the connect callback: POST, JSON; docs/integration.md). Default empty: a
	// connection is accepted on its credentials alone.
	ConnectURL string
	// ConnectHeaders are the request headers the connect callback forwards. Default
	// (empty) DefaultConnectHeaders: Cookie, Authorization, User-Agent,
	// X-Forwarded-For.
	ConnectHeaders []string
	// RPCURL receives the clients' rpc messages (POST, JSON). Default empty: an rpc
	// is answered with rpc_error rpc_not_configured.
	RPCURL string
	// SubscribeURL is asked about every client subscribe to a channel whose
	// namespace has subscribe_check, and PublishURL about every client publication
	// to one whose namespace has publish_check (POST, JSON; docs/integration.md).
	// Each is required when a namespace asks for its check. Default empty.
	SubscribeURL, PublishURL string
	// MaxWaitingRequests caps the channel requests one connection may have
	// waiting behind a subscribe or publish check (see
	// delivery.Config.MaxWaitingRequests; default 64).
	MaxWaitingRequests int
	// EventsURL receives connection events in batches. Default empty: no events.
	EventsURL string
	// Client configures the calls: signature secret or bearer key, timeout (1 s),
	// workers, queue, body limits, circuit breaker (see callbacks.Config). Its
	// Logger defaults to Config.Logger; its MaxRequestSize to the largest client
	// message (Engine.MaxMessageSize) plus 4 KiB when that is more than 64 KiB, so
	// that any message's rpc fits.
	Client callbacks.Config
	// MaxRPCsPerConnection caps one connection's rpcs in flight (see
	// delivery.Config.MaxRPCsPerConnection; default 16).
	MaxRPCsPerConnection int
	// Events configures the batching of events (see callbacks.EventsConfig; its
	// Endpoint is set by the gateway, its Logger defaults to Config.Logger).
	Events callbacks.EventsConfig
}

// enabled reports whether any callback is configured.
func (config CallbacksConfig) enabled() bool {
	return config.ConnectURL != "" || config.RPCURL != "" || config.EventsURL != "" || config.SubscribeURL != "" ||
		config.PublishURL != ""
}

// backend is a node's connection to its backend: the client, and the events poster
// when events are configured; the zero value is a node without callbacks.
type backend struct {
	client *callbacks.Client
	events *callbacks.Events
	// connect is the connect callback's connector; nil without ConnectURL.
	connect *connector
}

// startCallbacks creates the callbacks client and endpoints config asks for and
// sets them on publisherConfig; the connect callback's connector is returned for
// the engine.
func startCallbacks(config Config, publisherConfig *delivery.Config) (backend, error) {
	callbacksConfig := config.Callbacks
	if !callbacksConfig.enabled() {
		return backend{}, nil
	}
	clientConfig := callbacksConfig.Client
	if clientConfig.Logger == nil {
		clientConfig.Logger = config.Logger
	}
	// An rpc body wraps the client's message: by default it may be as large as
	// the largest message allowed plus room for the user, connection and method.
	if clientConfig.MaxRequestSize == 0 {
		clientConfig.MaxRequestSize = max(callbacks.DefaultMaxRequestSize,
			cmp.Or(config.Engine.MaxMessageSize, engine.DefaultMaxMessageSize)+rpcEnvelopeRoom)
	}
	client, err := callbacks.New(clientConfig)
	if err != nil {
		return backend{}, err
	}
	started := backend{client: client}
	publisherConfig.MaxRPCsPerConnection = callbacksConfig.MaxRPCsPerConnection
	publisherConfig.MaxWaitingRequests = callbacksConfig.MaxWaitingRequests
	if callbacksConfig.ConnectURL != "" {
		endpoint, err := client.Endpoint("connect", callbacksConfig.ConnectURL)
		if err != nil {
			client.Close()
			return backend{}, err
		}
		started.connect = newConnector(endpoint, callbacksConfig.ConnectHeaders, config.Logger)
	}
	if callbacksConfig.RPCURL != "" {
		if publisherConfig.RPC, err = client.Endpoint("rpc", callbacksConfig.RPCURL); err != nil {
			client.Close()
			return backend{}, err
		}
	}
	for _, check := range []struct {
		kind, url string
		endpoint  **callbacks.Endpoint
	}{{"subscribe", callbacksConfig.SubscribeURL, &publisherConfig.SubscribeCheck},
		{"publish", callbacksConfig.PublishURL, &publisherConfig.PublishCheck}} {
		if check.url == "" {
			continue
		}
		if *check.endpoint, err = client.Endpoint(check.kind, check.url); err != nil {
			client.Close()
			return backend{}, err
		}
	}
	if callbacksConfig.EventsURL != "" {
		eventsConfig := callbacksConfig.Events
		if eventsConfig.Endpoint, err = client.Endpoint("events", callbacksConfig.EventsURL); err != nil {
			client.Close()
			return backend{}, err
		}
		if eventsConfig.Logger == nil {
			eventsConfig.Logger = config.Logger
		}
		if started.events, err = callbacks.NewEvents(eventsConfig); err != nil {
			client.Close()
			return backend{}, err
		}
		publisherConfig.Events = started.events
	}
	return started, nil
}

// stop posts the pending events until deadline (at least minimumFlush from now),
// then closes the client; a no-op without callbacks.
func (b backend) stop(deadline time.Time) {
	if b.events != nil {
		ctx, cancel := context.WithDeadline(context.Background(), later(deadline, time.Now().Add(minimumFlush)))
		b.events.Close(ctx)
		cancel()
	}
	if b.client != nil {
		b.client.Close()
	}
}

// rpcEnvelopeRoom is what an rpc's body adds to the client's message, in bytes.
const rpcEnvelopeRoom = 4 << 10

// minimumFlush is the least time a shutdown leaves the events poster, however
// much of the shutdown timeout the connections took.
const minimumFlush = 100 * time.Millisecond

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
