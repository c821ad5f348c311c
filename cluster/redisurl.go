package cluster

import (
	"errors"
	"net/url"
	"strings"

	"github.com/redis/rueidis"
)

// urlForm is how Config.RedisURL is written, for error messages.
const urlForm = "redis://[user:password@]host:port[/db], or rediss:// for TLS"

// redactedURL returns address for a log or an error: any password replaced by
// "xxxxx", or a placeholder when address does not parse (it may hold a password).
func redactedURL(address string) string {
	parsed, err := url.Parse(address)
	if err != nil {
		return "(unparseable URL, not shown)"
	}
	return parsed.Redacted()
}

// withoutURL returns err without the URL net/url puts in its parse errors, which
// would show the password.
func withoutURL(err error) error {
	var urlError *url.Error
	if errors.As(err, &urlError) {
		return urlError.Err
	}
	return err
}

// refusal returns Redis's answer when err, the outcome of the first connection,
// is Redis refusing this node for its configuration: a wrong password or user
// (WRONGPASS, NOAUTH), missing permissions (NOPERM), a database number out of range.
// Such a node would retry forever without ever joining, so New fails instead. A
// Redis that is unreachable, or answers with a passing condition (loading its data,
// busy, a failover, its client limit), is not a refusal: the node starts degraded
// and joins when Redis accepts it.
func refusal(err error) (*rueidis.RedisError, bool) {
	answer, answered := rueidis.IsRedisErr(err)
	if !answered || answer.IsLoading() || answer.IsTryAgain() || answer.IsClusterDown() {
		return nil, false
	}
	text := answer.Error()
	for _, passing := range []string{"BUSY", "MASTERDOWN"} {
		if strings.HasPrefix(text, passing) {
			return nil, false
		}
	}
	if strings.Contains(text, "max number of clients") {
		return nil, false
	}
	return answer, true
}
