package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/httpjson"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The publish API lets a backend push to clients and disconnect them. A message is
// any JSON object; it reaches clients byte for byte as given, encoded into a
// WebSocket frame once however many connections receive it. The handlers parse the
// request, hand it to the publisher (package delivery), which acts on this node's
// connections and, in a cluster, on the other nodes', and answer what it reached.

// routePublish registers the publish endpoints, each behind the API key rule.
func (a *API) routePublish() {
	a.routes.handle("POST", "/api/v1/broadcast", a.access.protect(a.serveBroadcast))
	a.routes.handle("POST", "/api/v1/users/{user_id}/send", a.access.protect(a.serveSendToUser))
	a.routes.handle("POST", "/api/v1/connections/{connection_id}/send", a.access.protect(a.serveSendToConnection))
	a.routes.handle("DELETE", "/api/v1/connections/{connection_id}", a.access.protect(a.serveKickConnection))
	a.routes.handle("DELETE", "/api/v1/users/{user_id}/connections", a.access.protect(a.serveKickUser))
}

// sendRequest is the body of the send endpoints; broadcastRequest adds exclusions.
type sendRequest struct {
	Message json.RawMessage `json:"message"`
}

type broadcastRequest struct {
	Message json.RawMessage `json:"message"`
	Exclude []string        `json:"exclude"`
}

// kickRequest is the optional body of the disconnect endpoints.
type kickRequest struct {
	Reason string `json:"reason"`
}

// queuedResponse says for how many connections of this node a message was queued
// and, in a cluster, how many other nodes received it.
type queuedResponse struct {
	Queued int  `json:"queued"`
	Nodes  *int `json:"nodes,omitempty"`
}

// closedResponse says how many connections of this node were closed and, in a
// cluster, how many other nodes received the request.
type closedResponse struct {
	Closed int  `json:"closed"`
	Nodes  *int `json:"nodes,omitempty"`
}

// serveBroadcast answers POST /api/v1/broadcast {"message":{...},"exclude":[ids]}.
func (a *API) serveBroadcast(writer http.ResponseWriter, request *http.Request) {
	var body broadcastRequest
	if !a.readJSON(writer, request, &body, true) || !checkMessage(writer, body.Message) {
		return
	}
	exclude := make([]session.ConnectionID, 0, len(body.Exclude))
	for _, text := range body.Exclude {
		id, err := session.ParseConnectionID(text)
		if err != nil {
			writeError(writer, http.StatusBadRequest, "invalid_exclude",
				"exclude must hold connection ids (UUIDs); "+strconv.Quote(text)+" is not one")
			return
		}
		exclude = append(exclude, id)
	}
	result := a.publisher.Broadcast(request.Context(), body.Message, exclude...)
	a.writeCounted(writer, result, "queued")
}

// serveSendToUser answers POST /api/v1/users/{user_id}/send {"message":{...}}. A
// user without connections on this node gets {"queued":0}.
func (a *API) serveSendToUser(writer http.ResponseWriter, request *http.Request) {
	var body sendRequest
	if !a.readJSON(writer, request, &body, true) || !checkMessage(writer, body.Message) {
		return
	}
	result := a.publisher.SendToUser(request.Context(), request.PathValue("user_id"), body.Message)
	a.writeCounted(writer, result, "queued")
}

// writeCounted answers a delivery to every connection of a kind (broadcast, send to
// user, kick user): field ("queued" or "closed") counts this node's connections and,
// in a cluster, "nodes" how many other nodes received it, or 503 when they could not
// be reached (this node's connections did get it).
func (a *API) writeCounted(writer http.ResponseWriter, result delivery.Result, field string) {
	var nodes *int
	if result.Forwarded {
		nodes = &result.Nodes
	}
	switch {
	case result.Err != nil:
		a.writeDeliveryUnavailable(writer, result.Err, field, result.Local)
	case field == "closed":
		httpjson.Write(writer, http.StatusOK, closedResponse{Closed: result.Local, Nodes: nodes})
	default:
		httpjson.Write(writer, http.StatusOK, queuedResponse{Queued: result.Local, Nodes: nodes})
	}
}

// serveSendToConnection answers POST /api/v1/connections/{connection_id}/send
// {"message":{...}}; 404 when the connection is not open on this node. In a cluster
// a connection of another node gets the message through Redis: {"queued":0,"nodes":1},
// or 404 when no live node holds it.
func (a *API) serveSendToConnection(writer http.ResponseWriter, request *http.Request) {
	var body sendRequest
	if !a.readJSON(writer, request, &body, true) || !checkMessage(writer, body.Message) {
		return
	}
	id, found := connectionIDFromPath(writer, request)
	if !found {
		return
	}
	a.answerConnection(writer, request, a.publisher.SendToConnection(request.Context(), id, body.Message), "queued")
}

// serveKickConnection answers DELETE /api/v1/connections/{connection_id}: the
// connection is closed with 4403 "kicked" (or the given reason text); 404 when it
// is not open on this node. In a cluster a connection of another node is closed by
// its node: {"closed":0,"nodes":1}, or 404 when no live node holds it.
func (a *API) serveKickConnection(writer http.ResponseWriter, request *http.Request) {
	text, valid := a.kickText(writer, request)
	if !valid {
		return
	}
	id, found := connectionIDFromPath(writer, request)
	if !found {
		return
	}
	a.answerConnection(writer, request, a.publisher.KickConnection(request.Context(), id, text), "closed")
}

// answerConnection answers a request for one connection: field ("queued" or
// "closed") is 1 when it was open here; for another node's connection it is 0 and
// nodes is 1 when its node received the request; 404 when no live node holds it;
// 503 when Redis is unreachable.
func (a *API) answerConnection(writer http.ResponseWriter, request *http.Request, result delivery.Result, field string) {
	switch {
	case result.Err != nil:
		a.writeDeliveryUnavailable(writer, result.Err, field, result.Local)
	case !result.Reached():
		writeConnectionNotFound(writer, request)
	case result.Forwarded:
		httpjson.Write(writer, http.StatusOK, map[string]int{field: 0, "nodes": result.Nodes})
	case field == "closed":
		httpjson.Write(writer, http.StatusOK, closedResponse{Closed: result.Local})
	default:
		httpjson.Write(writer, http.StatusOK, queuedResponse{Queued: result.Local})
	}
}

// serveKickUser answers DELETE /api/v1/users/{user_id}/connections: every
// connection of the user on this node is closed with 4403 "kicked" (or the given
// reason text).
func (a *API) serveKickUser(writer http.ResponseWriter, request *http.Request) {
	text, valid := a.kickText(writer, request)
	if !valid {
		return
	}
	result := a.publisher.KickUser(request.Context(), request.PathValue("user_id"), text)
	a.writeCounted(writer, result, "closed")
}

// kickText returns the close frame text for a disconnect: ?reason= or the body's
// "reason", else "kicked". It answers 400 itself for text that is not UTF-8 or is
// longer than a close frame allows.
func (a *API) kickText(writer http.ResponseWriter, request *http.Request) (string, bool) {
	var body kickRequest
	if !a.readJSON(writer, request, &body, false) {
		return "", false
	}
	text := body.Reason
	if request.URL.Query().Has("reason") {
		text = request.URL.Query().Get("reason")
	}
	if !utf8.ValidString(text) || len(text) > protocol.MaxCloseTextSize {
		writeError(writer, http.StatusBadRequest, "invalid_reason",
			"reason must be UTF-8 text of at most "+strconv.Itoa(protocol.MaxCloseTextSize)+" bytes")
		return "", false
	}
	if text == "" {
		text = session.ReasonKicked.Text()
	}
	return text, true
}

// readJSON reads the body (at most maxBodySize bytes) into target, a pointer to a
// struct. An empty body is allowed unless required. It answers 413 or 400 itself
// and then returns false; a Content-Length over the limit gets its 413 before any
// of the body is read.
func (a *API) readJSON(writer http.ResponseWriter, request *http.Request, target any, required bool) bool {
	if request.ContentLength > a.maxBodySize {
		a.writeBodyTooLarge(writer, request)
		return false
	}
	data, err := io.ReadAll(http.MaxBytesReader(writer, request.Body, a.maxBodySize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		a.writeBodyTooLarge(writer, request)
		return false
	case err != nil:
		writeError(writer, http.StatusBadRequest, "unreadable_body", "the request body could not be read")
		return false
	case len(bytes.TrimSpace(data)) == 0 && !required:
		return true
	}
	if err := json.Unmarshal(data, target); err != nil {
		writeError(writer, http.StatusBadRequest, "invalid_json",
			"the body must be a JSON object of the documented shape: "+err.Error())
		return false
	}
	return true
}

// checkMessage answers 400 itself, and returns false, unless message is a JSON
// object.
func checkMessage(writer http.ResponseWriter, message json.RawMessage) bool {
	switch {
	case len(message) == 0 || string(message) == "null":
		writeError(writer, http.StatusBadRequest, "missing_message", `the body has no "message"`)
		return false
	case message[0] != '{':
		writeError(writer, http.StatusBadRequest, "message_not_object", `"message" must be a JSON object`)
		return false
	}
	return true
}

// connectionIDFromPath parses the {connection_id} path value; text that is not a
// connection id cannot name an open connection, so it gets the same 404.
func connectionIDFromPath(writer http.ResponseWriter, request *http.Request) (session.ConnectionID, bool) {
	id, err := session.ParseConnectionID(request.PathValue("connection_id"))
	if err != nil {
		writeConnectionNotFound(writer, request)
		return id, false
	}
	return id, true
}

func writeConnectionNotFound(writer http.ResponseWriter, request *http.Request) {
	writeError(writer, http.StatusNotFound, "connection_not_found",
		"no open connection "+strconv.Quote(request.PathValue("connection_id")))
}
