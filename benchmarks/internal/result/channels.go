package result

// Subscriptions is what the channels of the subscription scenarios were: each
// connection subscribed to PerConnection of Channels channels (connection i, its k-th
// channel: number (i+k*Channels/PerConnection) mod Channels), and how the server
// answered.
type Subscriptions struct {
	Channels      int     `json:"channels"`
	PerConnection int     `json:"per_connection"`
	Requested     int64   `json:"requested"`
	Confirmed     int64   `json:"confirmed"`
	Refused       int64   `json:"refused"`
	Seconds       float64 `json:"seconds"`
}

// SubscriptionMemory is the server's memory before and after every connection
// subscribed, both settled as in Idle; the per-subscription figures are the
// differences divided by the confirmed subscriptions.
type SubscriptionMemory struct {
	Subscriptions       Subscriptions `json:"subscriptions"`
	Before              Sample        `json:"before"`
	After               Sample        `json:"after"`
	RSSPerSubscription  float64       `json:"rss_per_subscription_bytes"`
	HeapPerSubscription *float64      `json:"heap_per_subscription_bytes,omitempty"`
	CPU                 CPU           `json:"cpu"`
}

// ChannelRate is publications through the API's batch endpoint to every channel in
// turn, at a fixed rate: each round publishes once to every channel, so every
// connection receives PerConnection publications per round. Delivered per second is
// from the first send to the last receipt; ServerCPUPerDelivery is the server's
// processor time over the deliveries, in seconds.
type ChannelRate struct {
	Subscriptions        Subscriptions `json:"subscriptions"`
	PublicationsPerSec   float64       `json:"publications_per_second"`
	Batch                int           `json:"batch"`
	Rounds               int           `json:"rounds"`
	Published            int64         `json:"published"`
	Duration             float64       `json:"duration_s"`
	Expected             int64         `json:"expected"`
	Delivered            int64         `json:"delivered"`
	Lost                 int64         `json:"lost"`
	Stale                int64         `json:"stale"`
	DeliveredPerSecond   float64       `json:"delivered_per_second"`
	Latency              Latency       `json:"latency"`
	ServerCPUPerDelivery *float64      `json:"server_cpu_per_delivery_s,omitempty"`
	CPU                  CPU           `json:"cpu"`
}
