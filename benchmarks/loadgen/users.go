package main

import (
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
)

// userIDs gives each dial of a fleet the URL it connects to: with -conns-per-user
// above 0, the target with ?user_id= naming a user that takes that many consecutive
// connections (1: every connection its own user); the server must trust the
// parameter (wsgate's -insecure-user-id) and allow as many connections per user
// (-max-conns-per-user). The ids start with the process id, so worker processes of
// one run never share a user. Safe for concurrent use.
type userIDs struct {
	target       *url.URL
	connsPerUser int64
	prefix       string
	dialed       atomic.Int64
}

// newUserIDs returns the URLs for connsPerUser connections per user, or nil when
// connsPerUser is 0 (anonymous connections: every dial uses target as it is).
func newUserIDs(target *url.URL, connsPerUser int) *userIDs {
	if connsPerUser <= 0 {
		return nil
	}
	return &userIDs{target: target, connsPerUser: int64(connsPerUser), prefix: "u" + strconv.Itoa(os.Getpid()) + "-"}
}

// next returns the URL of the next dial: target when u is nil.
func (u *userIDs) next(target *url.URL) *url.URL {
	if u == nil {
		return target
	}
	user := (u.dialed.Add(1) - 1) / u.connsPerUser
	query := u.target.Query()
	query.Set("user_id", u.prefix+strconv.FormatInt(user, 10))
	withUser := *u.target
	withUser.RawQuery = query.Encode()
	return &withUser
}
