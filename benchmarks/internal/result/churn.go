package result

// Churn is what the load generator's churn scenario did while a soak watched the
// server: the steady connections and their subscriptions, the short-lived
// connections by how they ended, what the server answered them, and every API call
// by route and outcome.
type Churn struct {
	Seconds       float64       `json:"seconds"`
	Steady        int           `json:"steady_connections"`
	Subscriptions Subscriptions `json:"steady_subscriptions"`
	// ConnectsPerSecond is the rate asked for; Attempted counts the dials started,
	// Skipped the dials left out because MaxInFlight connections were still alive.
	ConnectsPerSecond float64 `json:"connects_per_second"`
	Attempted         int64   `json:"attempted"`
	Skipped           int64   `json:"skipped"`
	DialFailures      int64   `json:"dial_failures"`
	FirstError        string  `json:"first_error,omitempty"`
	// Ended counts the short-lived connections by how they ended: closed (a close
	// frame, then the socket), dropped (the socket closed without a close frame),
	// vanished (a frozen TCP path: the server sees nothing at all until its
	// heartbeat gives up), stalled (never read a byte after the upgrade); "dial
	// failed (kind)" counts the dials of each kind that failed.
	Ended map[string]int64 `json:"ended"`
	// Welcomed counts welcome answers to hello; Received counts the frames the
	// short-lived connections read, Subscribed their subscribed answers.
	Welcomed   int64 `json:"welcomed"`
	Subscribed int64 `json:"subscribed"`
	Received   int64 `json:"received"`
	// API counts the HTTP API calls by route, then by outcome: "2xx", "404" or the
	// status (or "error" for a failed request).
	API map[string]map[string]int64 `json:"api"`
	// SteadyOpen is how many steady connections were still open at the end;
	// SteadyReplaced how many the generator dialed again (every 30 s) to replace
	// the ones the server had closed.
	SteadyOpen     int64 `json:"steady_open"`
	SteadyReplaced int64 `json:"steady_replaced"`
}
