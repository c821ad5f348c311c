package result

// Presence is the presence scenario of loadgen: a join storm into one channel with
// join_leave against the same storm into a channel without it (StormOn, StormOff,
// one figure per round, rounds alternating), the memory of presence (Memory), and
// the cost of presence queries over real sockets (Queries).
type Presence struct {
	Watchers int              `json:"watchers"`
	Joiners  int              `json:"joiners"`
	WindowS  float64          `json:"storm_window_s"`
	ObserveS float64          `json:"observe_s"`
	StormOn  []PresenceStorm  `json:"storm_join_leave"`
	StormOff []PresenceStorm  `json:"storm_baseline"`
	Memory   []PresenceMemory `json:"memory"`
	Queries  []PresenceQuery  `json:"queries"`
}

// PresenceStorm is one storm: Joiners users subscribed to Channel, spread over the
// window, while Watchers users already subscribed to it. Per watcher: the presence
// messages (join, leave, presence_diff) received in the observation, and the most
// received in any one second (sliding). FramesSent is the server's
// wsgate_messages_sent_total over the observation (the joiners' "subscribed"
// answers included); CPU is processor time over it.
type PresenceStorm struct {
	Channel              string  `json:"channel"`
	SubscribedS          float64 `json:"all_subscribed_s"`
	Confirmed            int64   `json:"confirmed"`
	PerWatcherMean       float64 `json:"presence_messages_per_watcher"`
	PerWatcherMaxSecond  int     `json:"max_per_watcher_second"`
	PresenceMessagesSeen int64   `json:"presence_messages_received"`
	FramesSent           float64 `json:"frames_sent"`
	CPU                  CPU     `json:"cpu"`
}

// PresenceMemory is one round of the memory measure: the server's heap (after a
// forced GC) and RSS before and after Subscribers connections subscribed to
// Channel, and their differences per subscriber.
type PresenceMemory struct {
	Channel     string  `json:"channel"`
	Presence    bool    `json:"presence"`
	Subscribers int64   `json:"subscribers"`
	HeapPerUser float64 `json:"heap_per_subscriber_bytes"`
	RSSPerUser  float64 `json:"rss_per_subscriber_bytes"`
}

// PresenceQuery is one round of one query kind against a channel of Subscribers:
// Count queries one after the other, each from another subscriber, their round
// trips, and the server's processor time per query (seconds).
type PresenceQuery struct {
	Kind              string  `json:"kind"`
	Subscribers       int     `json:"subscribers"`
	Count             int     `json:"count"`
	Errors            int     `json:"errors"`
	RoundTrip         Latency `json:"round_trip"`
	ServerCPUPerQuery float64 `json:"server_cpu_per_query_s"`
	AnswerBytes       int     `json:"answer_bytes"`
	FirstError        string  `json:"first_error,omitempty"`
}
