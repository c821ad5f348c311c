package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/httpjson"
)

// The history endpoint and the history families of /metrics (docs/channels.md,
// "History and recovery").

// Limits of the history endpoint's ?limit=.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 10000
)

// historyPublication is one publication of the history endpoint's answer.
type historyPublication struct {
	Offset uint64          `json:"offset"`
	Data   json.RawMessage `json:"data"`
}

// serveHistory answers GET /api/v1/channels/{channel}/history?since=N&limit=L:
// the publications with offset > since (default 0: all held), oldest first, at
// most limit (default DefaultHistoryLimit, at most MaxHistoryLimit), and the
// stream's position, {"publications":[{"offset":...,"data":...}],"offset":top,
// "epoch":E}. 404 no_history when the channel's namespace keeps none, 503
// history_unavailable when the store cannot be read.
func (a *API) serveHistory(writer http.ResponseWriter, request *http.Request) {
	channel := request.PathValue("channel")
	if err := channels.ValidateName(channel); err != nil {
		writeError(writer, http.StatusBadRequest, channels.CodeInvalidChannel, err.Error())
		return
	}
	query := request.URL.Query()
	var since uint64
	if text := query.Get("since"); text != "" {
		parsed, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			writeError(writer, http.StatusBadRequest, "invalid_since", "since must be an offset: a whole number from 0")
			return
		}
		since = parsed
	}
	limit := DefaultHistoryLimit
	if text := query.Get("limit"); text != "" {
		parsed, err := strconv.Atoi(text)
		if err != nil || parsed < 1 || parsed > MaxHistoryLimit {
			writeError(writer, http.StatusBadRequest, "invalid_limit",
				"limit must be a whole number from 1 to "+strconv.Itoa(MaxHistoryLimit))
			return
		}
		limit = parsed
	}
	publications, top, found, err := a.publisher.HistoryOf(request.Context(), channel, since, limit)
	switch {
	case !found:
		writeError(writer, http.StatusNotFound, "no_history",
			"the namespace of "+strconv.Quote(channel)+" keeps no history (history_size is not set)")
		return
	case err != nil:
		a.logger.Debug("history read failed", "channel", channel, "error", err.Error())
		writeError(writer, http.StatusServiceUnavailable, "history_unavailable", "the history store could not be read: "+err.Error())
		return
	}
	entries := make([]historyPublication, len(publications))
	for index, publication := range publications {
		entries[index] = historyPublication{Offset: publication.Offset, Data: publication.Data}
	}
	httpjson.Write(writer, http.StatusOK, map[string]any{"publications": entries, "offset": top.Offset, "epoch": top.Epoch})
}

// positionFields adds a history channel's publication position to an answer:
// "offset" and "epoch", when the publication has one.
func positionFields(answer map[string]any, position history.Position) map[string]any {
	if position != (history.Position{}) {
		answer["offset"], answer["epoch"] = position.Offset, position.Epoch
	}
	return answer
}

// appendFailureReasons are the label values of the history failure counters.
var appendFailureReasons = []string{"unavailable", "busy"}

// writeHistoryFamilies writes the history families: the publisher's counters and,
// on a single node, the memory store's figures; O(1).
func (a *API) writeHistoryFamilies(out *exposition) {
	stats := a.publisher.HistoryStats()
	out.counter("wsgate_history_appended_total", "Publications this node appended to a channel's history.", stats.Appended)
	out.countersByLabel("wsgate_history_append_failures_total",
		"History channel publications delivered on this node without an offset: the store was unavailable, or its workers busy.",
		"reason", appendFailureReasons, map[string]uint64{"unavailable": stats.AppendFailures, "busy": stats.AppendsRejected})
	out.countersByLabel("wsgate_history_subscribe_failures_total",
		"Subscribes to history channels answered without a position: the store was unavailable, or its workers busy.",
		"reason", appendFailureReasons, map[string]uint64{"unavailable": stats.JoinFailures, "busy": stats.JoinsRejected})
	out.countersByLabel("wsgate_recoveries_total",
		"Subscribes that asked to recover, by answer: recovered (every missed publication sent) or not (the client reloads).",
		"result", []string{"recovered", "not_recovered"},
		map[string]uint64{"recovered": stats.Recovered, "not_recovered": stats.NotRecovered})
	out.counter("wsgate_recovered_publications_total", "Missed publications sent by recoveries.", stats.RecoveredPublications)
	out.counter("wsgate_history_buffer_overflows_total",
		"Connections closed as slow consumers while joining a history channel: the live publications held for them passed -max-pending-bytes.",
		stats.BufferOverflows)
	if a.history == nil {
		return
	}
	memory := a.history.Stats()
	out.gauge("wsgate_history_streams", "Channels with a history in this node's memory.", float64(memory.Streams))
	out.gauge("wsgate_history_publications", "Publications held in this node's memory history.", float64(memory.Publications))
	out.gauge("wsgate_history_bytes", "Accounted bytes of this node's memory history (payloads and overheads).", float64(memory.Bytes))
	out.gauge("wsgate_history_max_bytes", "The node-wide byte budget of the memory history.", float64(memory.MaxBytes))
	out.counter("wsgate_history_evicted_streams_total",
		"Channel histories dropped whole by the byte budget, least recently published first.", memory.EvictedStreams)
	out.counter("wsgate_history_evicted_publications_total", "Publications dropped by the byte budget.", memory.EvictedPublications)
	out.counter("wsgate_history_expired_publications_total", "Publications dropped by history_ttl.", memory.ExpiredPublications)
	out.counter("wsgate_history_trimmed_publications_total", "Publications pushed out by history_size.", memory.TrimmedPublications)
}
