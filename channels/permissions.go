package channels

import "strings"

// PersonalUserSeparator starts the list of users in the name of a personal channel
// ("notifications:inbox#alice"); PersonalUserListSeparator separates the users of
// the list ("dialogs:#alice,bob").
const (
	PersonalUserSeparator     = '#'
	PersonalUserListSeparator = ','
)

// Grants are what a connection's token allows beyond its namespaces' open rules: the
// "wsgate" claim's "subscribe" and "publish" patterns and its "broadcast" flag. The
// zero Grants allows nothing. Immutable once built; share one per connection.
type Grants struct {
	Subscribe Patterns
	Publish   Patterns
	Broadcast bool
}

// Connection is what a permission decision knows of one connection.
type Connection struct {
	// UserID is the connection's user, "" for an anonymous connection. A connection
	// with a user id counts as authenticated: its id came from a verified JWT, or from
	// ?user_id= where the operator chose to trust it (-insecure-user-id).
	UserID string
	// Grants come from the connection's token; nil when it has none.
	Grants *Grants
}

// SubscribePermission decides whether connection may subscribe to channel, whose
// namespace has options (from Namespaces.Lookup). tokenChannel is the "channel" claim
// of a subscription token the caller verified for this connection (signature, expiry,
// "sub" equal to the user), or "" when the request carried none. It returns nil or
// ErrPermissionDenied. The first rule that allows decides:
//
//  1. A subscription token for this very channel.
//  2. A "subscribe" pattern of the connection's grants that matches the channel.
//  3. In a personal namespace (options.Personal), the users the channel's name lists:
//     the part after the namespace is either one user id ("inbox:alice") or ends in
//     '#' and a comma-separated list of user ids ("inbox:mentions#alice",
//     "dialogs:#alice,bob"; everything after the first '#' is the list). So a backend
//     publishes per-user notifications to "inbox:<user>" and each user subscribes to
//     their own channel with no token minted for it, while no one else can read it
//     without a grant: a personal namespace's mode is always SubscribeToken. A user id
//     containing ',' can use only the one-user form.
//  4. The namespace's mode: SubscribeAnyone allows every connection,
//     SubscribeAuthenticated every connection with a user id, SubscribeToken none.
//
// Pure: no state, no allocation; safe for concurrent use. The channel name must be
// valid (ValidateName); the caller checks it first, and the subscription limits are
// the Index's.
func SubscribePermission(options NamespaceOptions, connection Connection, channel, tokenChannel string) error {
	if tokenChannel != "" && tokenChannel == channel {
		return nil
	}
	if connection.Grants != nil && connection.Grants.Subscribe.Match(channel) {
		return nil
	}
	if options.Personal {
		if personalChannelOf(channel, connection.UserID) {
			return nil
		}
		return ErrPermissionDenied
	}
	switch options.Subscribe {
	case SubscribeAnyone:
		return nil
	case SubscribeAuthenticated:
		if connection.UserID != "" {
			return nil
		}
	}
	return ErrPermissionDenied
}

// personalChannelOf reports whether channel, in a personal namespace, lists userID
// (see SubscribePermission, rule 3). An anonymous connection owns no channel.
func personalChannelOf(channel, userID string) bool {
	if userID == "" {
		return false
	}
	rest := localName(channel)
	if rest == userID {
		return true
	}
	_, users, found := strings.Cut(rest, string(PersonalUserSeparator))
	if !found {
		return false
	}
	for users != "" {
		var user string
		user, users, _ = strings.Cut(users, string(PersonalUserListSeparator))
		if user == userID {
			return true
		}
	}
	return false
}

// PublishPermission decides whether connection may publish to channel, whose
// namespace has options; subscribed says whether the connection is subscribed to the
// channel (Index.Subscribed). It returns nil, ErrPublishNotAllowed when the namespace
// takes no client publications (PublishOff) and no grant allows it, or
// ErrPermissionDenied when the namespace takes publications but not from this
// connection. A "publish" pattern of the connection's grants that matches the channel
// allows in every mode. Pure; safe for concurrent use.
func PublishPermission(options NamespaceOptions, connection Connection, channel string, subscribed bool) error {
	if connection.Grants != nil && connection.Grants.Publish.Match(channel) {
		return nil
	}
	switch options.Publish {
	case PublishSubscribers:
		if subscribed {
			return nil
		}
	case PublishAuthenticated:
		if connection.UserID != "" {
			return nil
		}
	default:
		return ErrPublishNotAllowed
	}
	return ErrPermissionDenied
}

// BroadcastPermission decides whether connection may send the seed's client
// broadcast (to every connection of the cluster). Without authentication
// (authentication false) every connection may, as in the seed; with it, only a
// connection whose token grants "broadcast", or every connection when the operator
// allows it (everyClientMayBroadcast). It returns nil or ErrPermissionDenied. Pure;
// safe for concurrent use.
func BroadcastPermission(authentication, everyClientMayBroadcast bool, connection Connection) error {
	if !authentication || everyClientMayBroadcast || (connection.Grants != nil && connection.Grants.Broadcast) {
		return nil
	}
	return ErrPermissionDenied
}
