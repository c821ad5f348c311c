package testsupport

import "net/url"

// WebSocketURL returns the WebSocket endpoint (engine.DefaultPath) of the node at
// address ("host:port") with query, which may be nil.
func WebSocketURL(address string, query url.Values) string {
	endpoint := url.URL{Scheme: "ws", Host: address, Path: "/api/v1/ws", RawQuery: query.Encode()}
	return endpoint.String()
}

// UserQuery returns the query that names userID on a node that trusts ?user_id=
// (gateway.Config.InsecureUserID), or nil for an anonymous connection.
func UserQuery(userID string) url.Values {
	if userID == "" {
		return nil
	}
	return url.Values{"user_id": {userID}}
}
