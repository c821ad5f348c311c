package dashboard

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wsgate/wsgate/internal/httpjson"
	"github.com/wsgate/wsgate/session"
)

// Limits of the search.
const (
	// MaxSearchResults is the most connections a search lists.
	MaxSearchResults = 100
	// MaxQuerySize is the longest query, in bytes.
	MaxQuerySize = 256
)

// connectionEntry is one connection a search found.
type connectionEntry struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// Node is the tag of the node that holds the connection; Local says whether
	// it is this one (only then are the details below known).
	Node         string     `json:"node"`
	Local        bool       `json:"local"`
	ConnectedAt  *time.Time `json:"connected_at,omitempty"`
	RemoteAddr   string     `json:"remote_addr,omitempty"`
	PendingBytes int        `json:"pending_bytes"`
}

// searchResponse answers a search.
type searchResponse struct {
	Query       string            `json:"query"`
	Connections []connectionEntry `json:"connections"`
	Truncated   bool              `json:"truncated"`
}

// ServeSearch answers GET /dashboard/api/search?q=X: the connections whose id is X
// or whose user id is X, on this node, with what the page shows and needs to kick
// one (the API's DELETE /api/v1/connections/{id}, which reaches every node). A
// connection id issued by another node of the cluster is listed with its node and
// no details. At most MaxSearchResults; O(the user's connections). The caller
// checks access (the API does).
func (d *Dashboard) ServeSearch(writer http.ResponseWriter, request *http.Request) {
	query := request.URL.Query().Get("q")
	if query == "" || len(query) > MaxQuerySize || !utf8.ValidString(query) {
		writeError(writer, http.StatusBadRequest, "invalid_query",
			"q must be a user id or a connection id: UTF-8 text of 1 to "+strconv.Itoa(MaxQuerySize)+" bytes")
		return
	}
	hub := d.config.Hub
	response := searchResponse{Query: query, Connections: []connectionEntry{}}
	if id, err := session.ParseConnectionID(query); err == nil {
		if connection := hub.Lookup(id); connection != nil {
			response.Connections = append(response.Connections, describe(connection))
		} else if tag := id.NodeTag(); d.config.Cluster != nil && tag != hub.Config().NodeTag {
			response.Connections = append(response.Connections, connectionEntry{ID: id.String(), Node: hex.EncodeToString(tag[:])})
		}
	}
	for _, connection := range hub.UserSessions(query) {
		if len(response.Connections) == MaxSearchResults {
			response.Truncated = true
			break
		}
		response.Connections = append(response.Connections, describe(connection))
	}
	writeJSON(writer, http.StatusOK, response)
}

// describe returns the entry of a connection of this node.
func describe(connection *session.Session) connectionEntry {
	tag := connection.ID().NodeTag()
	connectedAt := connection.ConnectedAt().UTC()
	return connectionEntry{ID: connection.ID().String(), UserID: connection.UserID(), Node: hex.EncodeToString(tag[:]),
		Local: true, ConnectedAt: &connectedAt, RemoteAddr: connection.RemoteAddr(), PendingBytes: connection.PendingBytes()}
}

// writeJSON answers status with body as JSON, in the API's manner, and keeps the
// answer out of caches: it names connections and users.
func writeJSON(writer http.ResponseWriter, status int, body any) {
	writer.Header().Set("Cache-Control", "no-store")
	httpjson.Write(writer, status, body)
}

// writeError answers status with the API's error body.
func writeError(writer http.ResponseWriter, status int, code, message string) {
	writeJSON(writer, status, map[string]string{"error": code, "message": message})
}
