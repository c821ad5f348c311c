package dashboard

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"
)

// streamHead is the answer's head: a stream of server-sent events that lasts until
// either side closes the socket, never stored by a cache.
const streamHead = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/event-stream; charset=utf-8\r\n" +
	"Cache-Control: no-store\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"Connection: close\r\n\r\n"

// ServeEvents answers GET /dashboard/api/events with a stream of server-sent events:
// first "history" (every second the node holds, see encodeHistory), then "sample"
// once a second (see updateDocument). The socket is taken over from the HTTP server
// and written by one goroutine of the dashboard until the page goes, the dashboard
// closes or a write fails; each write is the update every viewer shares, encoded
// once. At most Config.MaxViewers stream at once: one more gets 503. The caller
// checks access (the API does).
func (d *Dashboard) ServeEvents(writer http.ResponseWriter, request *http.Request) {
	if request.Method == http.MethodHead {
		writer.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		writer.WriteHeader(http.StatusOK)
		return
	}
	if !d.reserveViewer() {
		writeError(writer, http.StatusServiceUnavailable, "too_many_viewers",
			"the dashboard streams to at most "+strconv.Itoa(d.config.MaxViewers)+" pages at once")
		return
	}
	conn, _, err := http.NewResponseController(writer).Hijack()
	if err != nil {
		d.releaseViewer(nil)
		writeError(writer, http.StatusInternalServerError, "internal", "the server cannot stream this answer")
		return
	}
	if !d.addViewer(conn) {
		d.releaseViewer(nil)
		_ = conn.Close()
		return
	}
	d.config.Logger.Debug("dashboard viewer connected", "remote_addr", request.RemoteAddr)
	go func() {
		defer d.workers.Done()
		d.stream(conn)
	}()
}

// reserveViewer counts one more viewer unless Config.MaxViewers already stream.
func (d *Dashboard) reserveViewer() bool {
	for {
		viewing := d.viewing.Load()
		if int(viewing) >= d.config.MaxViewers {
			return false
		}
		if d.viewing.CompareAndSwap(viewing, viewing+1) {
			return true
		}
	}
}

// addViewer records conn as open, for Close, and counts its goroutine in workers;
// it refuses once the dashboard closed. Counting under the lock that Close takes
// before it waits orders every count before the wait.
func (d *Dashboard) addViewer(conn net.Conn) bool {
	d.viewers.Lock()
	defer d.viewers.Unlock()
	if d.viewers.closed {
		return false
	}
	d.viewers.open[conn] = struct{}{}
	d.workers.Add(1)
	return true
}

// releaseViewer forgets a viewer (its socket, when it had one) and uncounts it.
func (d *Dashboard) releaseViewer(conn net.Conn) {
	if conn != nil {
		d.viewers.Lock()
		delete(d.viewers.open, conn)
		d.viewers.Unlock()
	}
	d.viewing.Add(-1)
}

// stream writes the head, the history, the newest update if it is current, then
// every newer update, to one viewer; it returns, closing the socket, when a write
// fails (the page went) or the dashboard closes. A viewer that falls behind skips
// to the newest update.
func (d *Dashboard) stream(conn net.Conn) {
	defer func() {
		d.releaseViewer(conn)
		_ = conn.Close()
		d.config.Logger.Debug("dashboard viewer left")
	}()
	// An idle deadline the server set for a keep-alive connection would cut the
	// stream: the page sends nothing once it has asked.
	_ = conn.SetReadDeadline(time.Time{})
	current := d.latest.Load()
	history, newest := d.encodeHistory()
	if _, err := conn.Write(append([]byte(streamHead), history...)); err != nil {
		return
	}
	if current.second == newest && current.payload != nil {
		if _, err := conn.Write(current.payload); err != nil {
			return
		}
	}
	for {
		select {
		case <-d.stop:
			return
		case <-current.next:
		}
		current = d.latest.Load()
		if _, err := conn.Write(current.payload); err != nil {
			return
		}
	}
}

// historyDocument is the data of the "history" event, before the ring's values.
type historyDocument struct {
	Series     []string `json:"series"`
	Step       int      `json:"step"`
	HistoryMax int      `json:"history_seconds"`
}

// encodeHistory returns the "history" event: the series' names, the step (1 s) and
// the ring's values, {"series":[...],"step":1,"history_seconds":3600,
// "start":S,"values":[[...],...]}, and the newest second it holds. The encoding of a
// second is kept, so the viewers that open within it share one.
func (d *Dashboard) encodeHistory() ([]byte, int64) {
	d.historyCache.Lock()
	defer d.historyCache.Unlock()
	if d.historyCache.payload != nil && d.historyCache.second == d.history.newestSecond() {
		return d.historyCache.payload, d.historyCache.second
	}
	head, _ := json.Marshal(historyDocument{Series: seriesNames[:], Step: 1, HistoryMax: HistorySeconds})
	// The ring's object follows the head's fields: {"series":...,"start":...}.
	data := append(head[:len(head)-1:len(head)-1], ',')
	values, newest := d.history.appendJSON(nil, appendValue)
	data = append(data, values[1:]...)
	d.historyCache.second, d.historyCache.payload = newest, serverSentEvent(nil, "history", data)
	return d.historyCache.payload, newest
}
