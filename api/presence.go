package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/httpjson"
	"github.com/wsgate/wsgate/presence"
)

// The presence endpoints (docs/api.md, "Presence"): a channel's presence, paged,
// and its counts, for a namespace with presence; and whether users are online,
// one or a batch, answered from the hub's registry (across the cluster with a
// PresenceCluster), whether or not they are in any channel.

// routePresence registers the presence endpoints, each behind the API key rule.
func (a *API) routePresence() {
	a.routes.handle("GET", "/api/v1/channels/{channel}/presence", a.access.protect(a.servePresence))
	a.routes.handle("GET", "/api/v1/channels/{channel}/presence/stats", a.access.protect(a.servePresenceStats))
	a.routes.handle("GET", "/api/v1/users/{user_id}/presence", a.access.protect(a.serveUserPresence))
	a.routes.handle("POST", "/api/v1/users/presence", a.access.protect(a.serveUsersPresence))
}

// userPresence is one user's answer of the user presence endpoints.
type userPresence struct {
	User        string `json:"user"`
	Online      bool   `json:"online"`
	Connections int    `json:"connections"`
}

// presenceChannel returns the channel of a presence request's path; it answers 400
// invalid_channel itself.
func presenceChannel(writer http.ResponseWriter, request *http.Request) (string, bool) {
	channel := request.PathValue("channel")
	if err := channels.ValidateName(channel); err != nil {
		writeError(writer, http.StatusBadRequest, channels.CodeInvalidChannel, err.Error())
		return "", false
	}
	return channel, true
}

// writePresenceError answers a presence query that failed: 404
// presence_not_enabled, 400 invalid_cursor, or 503 presence_unavailable (the
// cluster could not be read).
func (a *API) writePresenceError(writer http.ResponseWriter, channel string, err error) {
	switch {
	case errors.Is(err, delivery.ErrPresenceNotEnabled):
		writeError(writer, http.StatusNotFound, channels.CodePresenceNotEnabled,
			"the namespace of "+strconv.Quote(channel)+" keeps no presence (presence is not set)")
	case errors.Is(err, delivery.ErrInvalidCursor):
		writeError(writer, http.StatusBadRequest, channels.CodeInvalidCursor, err.Error())
	default:
		a.logger.Debug("presence read failed", "channel", channel, "error", err.Error())
		writeError(writer, http.StatusServiceUnavailable, channels.CodePresenceUnavailable, "presence could not be read: "+err.Error())
	}
}

// servePresence answers GET /api/v1/channels/{channel}/presence?limit=&cursor=
// with one page: {"channel":C,"users":{"42":2,...},"total_users":N,
// "total_connections":M,"cursor":"..."}, cursor "" on the last page; limit
// defaults to presence.DefaultPageSize and is at most presence.MaxPageSize.
func (a *API) servePresence(writer http.ResponseWriter, request *http.Request) {
	channel, valid := presenceChannel(writer, request)
	if !valid {
		return
	}
	query := request.URL.Query()
	limit := presence.DefaultPageSize
	if text := query.Get("limit"); text != "" {
		parsed, err := strconv.Atoi(text)
		if err != nil || parsed < 1 || parsed > presence.MaxPageSize {
			writeError(writer, http.StatusBadRequest, "invalid_limit",
				"limit must be a whole number from 1 to "+strconv.Itoa(presence.MaxPageSize))
			return
		}
		limit = parsed
	}
	page, err := a.publisher.Presence(request.Context(), channel, limit, query.Get("cursor"))
	if err != nil {
		a.writePresenceError(writer, channel, err)
		return
	}
	users := page.Users
	if users == nil {
		users = map[string]int{}
	}
	httpjson.Write(writer, http.StatusOK, map[string]any{"channel": channel, "users": users,
		"total_users": page.TotalUsers, "total_connections": page.TotalConnections, "cursor": page.Cursor})
}

// servePresenceStats answers GET /api/v1/channels/{channel}/presence/stats with
// {"channel":C,"users":N,"connections":M}, in O(1).
func (a *API) servePresenceStats(writer http.ResponseWriter, request *http.Request) {
	channel, valid := presenceChannel(writer, request)
	if !valid {
		return
	}
	users, connections, err := a.publisher.PresenceStats(request.Context(), channel)
	if err != nil {
		a.writePresenceError(writer, channel, err)
		return
	}
	httpjson.Write(writer, http.StatusOK, map[string]any{"channel": channel, "users": users, "connections": connections})
}

// serveUserPresence answers GET /api/v1/users/{user_id}/presence with
// {"user":"42","online":true,"connections":2}.
func (a *API) serveUserPresence(writer http.ResponseWriter, request *http.Request) {
	answers, ok := a.usersOnline(writer, request.Context(), []string{request.PathValue("user_id")})
	if ok {
		httpjson.Write(writer, http.StatusOK, answers[0])
	}
}

// serveUsersPresence answers POST /api/v1/users/presence {"users":["42",...]} (at
// most delivery.MaxUsersOnline) with {"users":[{"user":"42","online":true,
// "connections":2},...]}, in the order asked.
func (a *API) serveUsersPresence(writer http.ResponseWriter, request *http.Request) {
	var body struct {
		Users *[]string `json:"users"`
	}
	if !a.readJSON(writer, request, &body, true) {
		return
	}
	switch {
	case body.Users == nil:
		writeError(writer, http.StatusBadRequest, "missing_users", `the body has no "users" list`)
		return
	case len(*body.Users) > delivery.MaxUsersOnline:
		writeError(writer, http.StatusBadRequest, "too_many_users",
			"a request asks about at most "+strconv.Itoa(delivery.MaxUsersOnline)+" users")
		return
	}
	for _, user := range *body.Users {
		if user == "" {
			writeError(writer, http.StatusBadRequest, "invalid_user", "a user id is empty")
			return
		}
	}
	answers, ok := a.usersOnline(writer, request.Context(), *body.Users)
	if ok {
		httpjson.Write(writer, http.StatusOK, map[string]any{"users": answers})
	}
}

// usersOnline asks the publisher about users; it answers 503 presence_unavailable
// itself when the cluster cannot be read.
func (a *API) usersOnline(writer http.ResponseWriter, ctx context.Context, users []string) ([]userPresence, bool) {
	counts, err := a.publisher.UsersOnline(ctx, users)
	if err != nil {
		a.logger.Debug("users online read failed", "error", err.Error())
		writeError(writer, http.StatusServiceUnavailable, channels.CodePresenceUnavailable, "presence could not be read: "+err.Error())
		return nil, false
	}
	answers := make([]userPresence, len(users))
	for index, user := range users {
		answers[index] = userPresence{User: user, Online: counts[index] > 0, Connections: counts[index]}
	}
	return answers, true
}
