package gateway

import (
	"net/url"
	"strings"
)

// queryValue returns what url.ParseQuery(rawQuery).Get(name) returns (the first
// value of name, unescaped; pairs with a semicolon or a bad escape skipped) without
// building the map of every parameter: on a connect storm that map was most of the
// cost of identifying a connection.
func queryValue(rawQuery, name string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || key != name {
			continue
		}
		if value, err := url.QueryUnescape(rawValue); err == nil {
			return value
		}
	}
	return ""
}
