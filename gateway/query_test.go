package gateway

import (
	"net/url"
	"testing"
)

// TestQueryValueAgreesWithParseQuery: the light lookup of ?user_id= answers what
// url.ParseQuery(...).Get does, for ordinary, repeated, escaped and broken queries.
func TestQueryValueAgreesWithParseQuery(t *testing.T) {
	for _, rawQuery := range []string{
		"", "user_id=alice", "user_id=", "user_id", "a=1&user_id=bob&c=3", "user_id=first&user_id=second",
		"user%5Fid=escaped%20key", "user_id=caf%C3%A9+au+lait", "user_id=bad%zz&user_id=good",
		"user_id=semi;colon&user_id=after", "&&user_id=x&&", "=&user_id=%", "user_id=a=b", "USER_ID=case",
		"token=abc&user_id=u1%2Fslash",
	} {
		query, _ := url.ParseQuery(rawQuery)
		if got, want := queryValue(rawQuery, "user_id"), query.Get("user_id"); got != want {
			t.Errorf("queryValue(%q) = %q, url.ParseQuery gives %q", rawQuery, got, want)
		}
	}
}
