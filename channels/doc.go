// Package channels holds the parts of publish/subscribe that know nothing of
// connections or transports: the channel index (which subscribers each channel has,
// which channels each subscriber is in, counts and listings), channel names and
// namespaces, permission patterns, and the permission decisions.
//
// It imports nothing of wsgate: the index is generic over its subscriber type (the
// delivery layer instantiates it with *session.Session), and the permission functions
// take plain values, so the protocol handler, the HTTP API and the cluster layer all
// use the same rules.
//
// # Use
//
// A client's subscribe: ValidateName, then Namespaces.Lookup for the channel's
// options, SubscribePermission, and Index.Subscribe with the options'
// MaxSubscribers; every refusal is an *Error whose Code is the wire error code. A
// client's publish: ValidateName, Lookup, PublishPermission (with
// Index.Subscribed), then the frame is encoded once, Index.Subscribers copies the
// channel's subscribers into a pooled buffer, and the hub queues the frame to them
// (session.Hub.SendToSessions), excluding the publisher unless the options'
// PublisherReceives. A disconnect: Index.UnsubscribeAll.
//
// # Lock rules
//
// An Index has two arrays of shards, each with its own sync.RWMutex: channel shards
// (chosen by a hash of the channel name) hold channels, their subscribers and their
// counts; subscriber shards (chosen by a hash of the user id, or of the subscriber
// when anonymous) hold each subscriber's own list of subscriptions and each user's
// channels. A goroutine holds at most one subscriber shard lock, and takes channel
// shard locks only while holding it or none; it holds at most one channel shard lock
// at a time, except TopChannels, which read-locks every channel shard in ascending
// order and takes no other lock. This order (a subscriber shard before a channel
// shard, channel shards in ascending order) rules out deadlock. No lock is held while
// calling out: UserID is called before locking, the Activity callback after
// unlocking.
package channels
