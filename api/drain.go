package api

import (
	"net/http"
	"time"

	"github.com/wsgate/wsgate/internal/httpjson"
	"github.com/wsgate/wsgate/session"
)

// The drain endpoint lets an operator (or a deploy script, before it stops the
// process) empty a node gradually: see session.Hub.Drain. From the start of a drain
// /readyz answers 503, so load balancers stop sending new clients.

// maxDrainDuration bounds ?duration: a typo of a unit ("30h") must not leave a
// node half-drained for a day.
const maxDrainDuration = time.Hour

// drainAnswer answers POST /api/v1/drain.
type drainAnswer struct {
	// Started is true when this request started the drain, false when one was
	// already running (the request then changed nothing).
	Started bool `json:"started"`
	drainProgress
}

// drainProgress is a drain's progress: in the drain endpoint's answer and as the
// "drain" object of the stats.
type drainProgress struct {
	// Status is always "draining".
	Status string `json:"status"`
	// StartedAt is when the drain started, RFC 3339 with milliseconds, UTC.
	StartedAt string `json:"started_at"`
	// DurationSeconds is the time over which the drain spreads its batches.
	DurationSeconds float64 `json:"duration_seconds"`
	// ConnectionsAtStart is the number of connections open when it started.
	ConnectionsAtStart int `json:"connections_at_start"`
	// Closed counts the connections the drain has closed so far.
	Closed int `json:"closed"`
	// Remaining is the number of connections still open.
	Remaining int `json:"remaining"`
	// Done is true once the last batch ran.
	Done bool `json:"done"`
}

// routeDrain registers the drain endpoint behind the API key rule.
func (a *API) routeDrain() {
	a.routes.handle("POST", "/api/v1/drain", a.access.protect(a.serveDrain))
}

// serveDrain answers POST /api/v1/drain[?duration=30s]: it starts draining the node
// over duration (a Go duration from 0s to 1h; default the node's drain duration,
// -drain-duration) and answers 202 with the drain's progress; when a drain already
// runs, 200 with its progress and started false. A drain cannot be undone: the node
// is meant to be stopped afterwards. 409 while the node shuts down.
func (a *API) serveDrain(writer http.ResponseWriter, request *http.Request) {
	duration := a.hub.Config().DrainDuration
	if text := request.URL.Query().Get("duration"); text != "" {
		parsed, err := time.ParseDuration(text)
		if err != nil || parsed < 0 || parsed > maxDrainDuration {
			writeError(writer, http.StatusBadRequest, "invalid_duration",
				"duration must be a duration from 0s to 1h with its unit, e.g. 30s or 2m")
			return
		}
		duration = parsed
		if parsed == 0 {
			duration = -1 // every connection at once; Hub.Drain reads 0 as its default
		}
	}
	started := a.hub.Drain(duration)
	status := a.hub.DrainStatus()
	if !status.Draining {
		writeError(writer, http.StatusConflict, "shutting_down", "the node is shutting down")
		return
	}
	code := http.StatusOK
	if started {
		code = http.StatusAccepted
	}
	httpjson.Write(writer, code, drainAnswer{Started: started, drainProgress: a.drainProgress(status)})
}

// drainProgress is the JSON form of a drain's status.
func (a *API) drainProgress(status session.DrainStatus) drainProgress {
	return drainProgress{
		Status:             "draining",
		StartedAt:          status.StartedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		DurationSeconds:    status.Duration.Seconds(),
		ConnectionsAtStart: status.Connections,
		Closed:             status.Closed,
		Remaining:          a.hub.ConnectionCount(),
		Done:               status.Done,
	}
}
