package channels

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SubscribeMode says which connections may subscribe to a namespace's channels
// without a grant of their own (a "subscribe" pattern in their token, or a
// subscription token for the channel), which always suffices.
type SubscribeMode string

// The subscribe modes, as written in the configuration file.
const (
	// SubscribeAnyone: every connection, anonymous ones included.
	SubscribeAnyone SubscribeMode = "anyone"
	// SubscribeAuthenticated: every connection with a user id.
	SubscribeAuthenticated SubscribeMode = "authenticated"
	// SubscribeToken: only connections with a grant.
	SubscribeToken SubscribeMode = "token"
)

// PublishMode says which connections may publish to a namespace's channels without a
// "publish" pattern in their token, which always suffices.
type PublishMode string

// The publish modes, as written in the configuration file.
const (
	// PublishOff: no client publications (the backend's API still publishes).
	PublishOff PublishMode = "off"
	// PublishSubscribers: connections subscribed to the channel.
	PublishSubscribers PublishMode = "subscribers"
	// PublishAuthenticated: every connection with a user id.
	PublishAuthenticated PublishMode = "authenticated"
)

// NamespaceOptions are the options of one namespace, with the shape of one entry of
// the configuration file's "namespaces" list (a contract like the wire format). Zero
// values mean the defaults named per field. A value type: copies are independent.
type NamespaceOptions struct {
	// Name is the namespace: channels "Name:..." belong to it; "" is the default
	// namespace of channels without NamespaceSeparator. At most MaxNameLength-1
	// bytes, no NamespaceSeparator, the characters of a channel name.
	Name string `yaml:"name" json:"name"`
	// Subscribe says who may subscribe without a grant. Default: SubscribeAnyone
	// without authentication, SubscribeToken with it (see NewNamespaces), and always
	// SubscribeToken when Personal is set.
	Subscribe SubscribeMode `yaml:"subscribe" json:"subscribe"`
	// Publish says who may publish without a grant. Default PublishOff.
	Publish PublishMode `yaml:"publish" json:"publish"`
	// PublisherReceives delivers a client's publication to the publishing
	// connection too, when it is subscribed. Default false.
	PublisherReceives bool `yaml:"publisher_receives" json:"publisher_receives"`
	// MaxSubscribers caps the subscribers of each channel of the namespace on this
	// node; 0 means unlimited.
	MaxSubscribers int `yaml:"max_subscribers" json:"max_subscribers"`
	// Personal makes every channel of the namespace readable by the users its name
	// lists, without tokens: see SubscribePermission. Only SubscribeToken (or no
	// Subscribe) goes with it, so no one else reads a personal channel without a grant.
	Personal bool `yaml:"personal" json:"personal"`
	// HistorySize turns on history for the namespace's channels: each keeps its
	// last HistorySize publications, which carry offsets, and a client that
	// resubscribes with its position recovers what it missed (package history,
	// docs/channels.md). Default 0: no history.
	HistorySize int `yaml:"history_size" json:"history_size"`
	// HistoryTTL is how long a publication stays in the history; written as a
	// duration ("5m") in the configuration file. Default DefaultHistoryTTL when
	// HistorySize is set; it needs HistorySize.
	HistoryTTL time.Duration `yaml:"history_ttl" json:"history_ttl"`
	// RecoverMax is the most publications one recovery sends; a client that missed
	// more is answered "recovered":false. Default DefaultRecoverMax when
	// HistorySize is set; it needs HistorySize.
	RecoverMax int `yaml:"recover_max" json:"recover_max"`
	// SubscribeCheck asks the backend's subscribe check (a gateway's subscribe
	// callback URL) about every client subscribe to the namespace's channels that
	// the rules above allow; the client is answered "subscribed" only when the
	// backend accepts. Server-side subscriptions (tokens, the connect callback, the
	// API) are the backend's word and are not checked. Default false.
	SubscribeCheck bool `yaml:"subscribe_check" json:"subscribe_check"`
	// PublishCheck asks the backend's publish check (a gateway's publish callback
	// URL) about every client publication to the namespace's channels that the
	// rules above allow; the backend accepts it, replaces its data, or refuses it.
	// Default false.
	PublishCheck bool `yaml:"publish_check" json:"publish_check"`
	// Presence keeps the presence of the namespace's channels: which users are
	// subscribed, with how many connections each, and the totals, which a
	// subscribed client ("presence", "presence_stats") and the backend's API read
	// (docs/channels.md, "Presence"). Anonymous connections are not counted.
	// Default false.
	Presence bool `yaml:"presence" json:"presence"`
	// JoinLeave sends the subscribers of the namespace's channels "join" when a
	// user's first connection subscribes and "leave" when its last one leaves,
	// coalesced into periodic "presence_diff" messages under churn. Default false.
	JoinLeave bool `yaml:"join_leave" json:"join_leave"`
}

// TracksPresence reports whether the namespace's channels keep presence: for the
// presence queries or for join and leave.
func (o NamespaceOptions) TracksPresence() bool { return o.Presence || o.JoinLeave }

// Defaults of the history options of a namespace with HistorySize set.
const (
	// DefaultHistoryTTL keeps publications five minutes: a reconnect after a
	// network change, a deploy's restart or a laptop's short sleep recovers.
	DefaultHistoryTTL = 5 * time.Minute
	// DefaultRecoverMax bounds a recovery to 1000 publications, so that one
	// reconnecting client is not sent an unbounded backlog at once (with the
	// default -max-pending-bytes of 1 MiB, publications of up to about 1 KB).
	DefaultRecoverMax = 1000
)

// HasHistory reports whether the namespace's channels keep history.
func (o NamespaceOptions) HasHistory() bool { return o.HistorySize > 0 }

// OptionError is an invalid namespace option: which namespace (by name) and which
// field (by its configuration file key), so a configuration loader can point at the
// line.
type OptionError struct {
	Namespace string
	Field     string
	Problem   string
}

// Error returns e.g. `namespace "chat": subscribe: "everyone" is not one of anyone,
// authenticated, token`.
func (e *OptionError) Error() string {
	return fmt.Sprintf("namespace %q: %s: %s", e.Namespace, e.Field, e.Problem)
}

// Validate checks the options and returns nil or an *OptionError for the first
// invalid field. Zero values are valid (they mean the defaults).
func (o NamespaceOptions) Validate() error {
	invalid := func(field, problem string, arguments ...any) error {
		return &OptionError{Namespace: o.Name, Field: field, Problem: fmt.Sprintf(problem, arguments...)}
	}
	if len(o.Name) >= MaxNameLength {
		return invalid("name", "longer than %d bytes", MaxNameLength-1)
	}
	if strings.IndexByte(o.Name, NamespaceSeparator) >= 0 {
		return invalid("name", "contains %q, which ends a namespace", NamespaceSeparator)
	}
	if err := validateCharacters("namespace name", o.Name); err != nil {
		return invalid("name", "%s", err.Error())
	}
	switch o.Subscribe {
	case "", SubscribeAnyone, SubscribeAuthenticated, SubscribeToken:
	default:
		return invalid("subscribe", "%q is not one of anyone, authenticated, token", o.Subscribe)
	}
	switch o.Publish {
	case "", PublishOff, PublishSubscribers, PublishAuthenticated:
	default:
		return invalid("publish", "%q is not one of off, subscribers, authenticated", o.Publish)
	}
	if o.MaxSubscribers < 0 {
		return invalid("max_subscribers", "%d is negative (0 means unlimited)", o.MaxSubscribers)
	}
	if o.Personal && o.Subscribe != "" && o.Subscribe != SubscribeToken {
		return invalid("subscribe", "%q would let every connection read personal channels; a personal namespace takes token (or nothing)", o.Subscribe)
	}
	return o.validateHistory(invalid)
}

// validateHistory checks the history options.
func (o NamespaceOptions) validateHistory(invalid func(field, problem string, arguments ...any) error) error {
	switch {
	case o.HistorySize < 0:
		return invalid("history_size", "%d is negative (0 means no history)", o.HistorySize)
	case o.HistoryTTL < 0:
		return invalid("history_ttl", "%v is negative", o.HistoryTTL)
	case o.RecoverMax < 0:
		return invalid("recover_max", "%d is negative", o.RecoverMax)
	case o.HistorySize == 0 && o.HistoryTTL != 0:
		return invalid("history_ttl", "needs history_size (the namespace keeps no history)")
	case o.HistorySize == 0 && o.RecoverMax != 0:
		return invalid("recover_max", "needs history_size (the namespace keeps no history)")
	}
	return nil
}

// DefaultNamespaceOptions returns the options of a namespace the configuration does
// not name: subscribe anyone and publish off without authentication, subscribe token
// and publish off with it (the "default deny" for JWT).
func DefaultNamespaceOptions(authentication bool) NamespaceOptions {
	return NamespaceOptions{}.withDefaults(authentication)
}

// withDefaults fills the zero fields that have defaults.
func (o NamespaceOptions) withDefaults(authentication bool) NamespaceOptions {
	if o.Subscribe == "" {
		o.Subscribe = SubscribeAnyone
		if authentication || o.Personal {
			o.Subscribe = SubscribeToken
		}
	}
	if o.Publish == "" {
		o.Publish = PublishOff
	}
	if o.HasHistory() {
		o.HistoryTTL = cmp.Or(o.HistoryTTL, DefaultHistoryTTL)
		o.RecoverMax = cmp.Or(o.RecoverMax, DefaultRecoverMax)
	}
	return o
}

// Namespaces finds the options of a channel's namespace. Immutable after
// NewNamespaces and safe for concurrent use.
type Namespaces struct {
	byName   map[string]NamespaceOptions
	defaults NamespaceOptions
	// subscribeChecked and publishChecked list the namespaces with SubscribeCheck
	// and PublishCheck, in configuration order.
	subscribeChecked, publishChecked []string
}

// Checked returns the names of the namespaces with SubscribeCheck and of those
// with PublishCheck, in configuration order (nil when none), so that a gateway
// can refuse a configuration that asks for a check without its callback's URL.
// The slices are the caller's.
func (n *Namespaces) Checked() (subscribe, publish []string) {
	return slices.Clone(n.subscribeChecked), slices.Clone(n.publishChecked)
}

// NewNamespaces validates options (each with Validate, and no name twice) and
// returns their lookup, with defaults filled in. authentication says whether clients
// authenticate (JWT configured): it decides the defaults (see
// DefaultNamespaceOptions).
func NewNamespaces(options []NamespaceOptions, authentication bool) (*Namespaces, error) {
	namespaces := &Namespaces{
		byName:   make(map[string]NamespaceOptions, len(options)),
		defaults: DefaultNamespaceOptions(authentication),
	}
	for _, option := range options {
		if err := option.Validate(); err != nil {
			return nil, err
		}
		if _, duplicate := namespaces.byName[option.Name]; duplicate {
			return nil, &OptionError{Namespace: option.Name, Field: "name", Problem: "the namespace is listed twice"}
		}
		namespaces.byName[option.Name] = option.withDefaults(authentication)
		if option.SubscribeCheck {
			namespaces.subscribeChecked = append(namespaces.subscribeChecked, option.Name)
		}
		if option.PublishCheck {
			namespaces.publishChecked = append(namespaces.publishChecked, option.Name)
		}
	}
	return namespaces, nil
}

// AnyTracksPresence reports whether a configured namespace tracks presence
// (NamespaceOptions.TracksPresence). O(namespaces).
func (n *Namespaces) AnyTracksPresence() bool {
	for _, options := range n.byName {
		if options.TracksPresence() {
			return true
		}
	}
	return false
}

// Lookup returns the options of channel's namespace (NamespaceOf), defaults filled
// in; for a namespace the configuration does not name, the default options
// (DefaultNamespaceOptions) with Name set to that namespace. The default namespace
// "" is configured like any other; its options do not extend to unnamed namespaces.
// O(1), no allocation.
func (n *Namespaces) Lookup(channel string) NamespaceOptions {
	name := NamespaceOf(channel)
	if options, found := n.byName[name]; found {
		return options
	}
	options := n.defaults
	options.Name = name
	return options
}
