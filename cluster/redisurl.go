package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/rueidis"
)

// urlForm is how Config.RedisURL is written, for error messages.
const urlForm = "redis://[user:password@]host:port[/db], rediss:// for TLS, " +
	"or redis+cluster://[user:password@]host:port[,host:port...] (rediss+cluster:// for TLS) for a Redis Cluster"

// clusterSchemes maps the schemes of a Redis Cluster URL to the scheme of its
// seeds.
var clusterSchemes = map[string]string{"redis+cluster": "redis", "rediss+cluster": "rediss"}

// clientOptions parses address into rueidis's options, and reports whether it names
// a Redis Cluster (redis+cluster:// or rediss+cluster://, whose comma-separated
// hosts are seeds: any one that answers gives the topology; more can come as
// ?addr=host:port, the only way for IPv6 literals). A cluster has database 0 only.
func clientOptions(address string) (rueidis.ClientOption, bool, error) {
	parsed, err := url.Parse(address)
	if err != nil {
		return rueidis.ClientOption{}, false, err
	}
	scheme, clustered := clusterSchemes[parsed.Scheme]
	if !clustered {
		options, err := rueidis.ParseURL(address)
		return options, false, err
	}
	seeds := strings.Split(parsed.Host, ",")
	for _, seed := range seeds {
		if seed == "" {
			return rueidis.ClientOption{}, true, errors.New("empty seed address")
		}
	}
	parsed.Scheme, parsed.Host = scheme, seeds[0]
	query := parsed.Query()
	for _, seed := range seeds[1:] {
		query.Add("addr", seed)
	}
	parsed.RawQuery = query.Encode()
	options, err := rueidis.ParseURL(parsed.String())
	if err != nil {
		return options, true, err
	}
	if options.SelectDB != 0 {
		return options, true, fmt.Errorf("database %d: a Redis Cluster has database 0 only", options.SelectDB)
	}
	if options.TLSConfig != nil {
		// Each node is verified against its own address, not the first seed's.
		options.TLSConfig.ServerName = ""
	}
	return options, true, nil
}

// knownScheme reports whether scheme is one of Config.RedisURL's: plain TCP, TLS, a
// Unix socket, or a Redis Cluster's.
func knownScheme(scheme string) bool {
	_, clustered := clusterSchemes[scheme]
	return clustered || scheme == "redis" || scheme == "rediss" || scheme == "unix"
}

// CheckURL returns why New would refuse address as Config.RedisURL (a database
// number that is not a number, an empty seed, a bad port...), or nil: the reason
// alone, never the URL, which may hold a password. It does not reach Redis. Safe for
// concurrent use.
func CheckURL(address string) error {
	if parsed, err := url.Parse(address); err != nil || !knownScheme(parsed.Scheme) {
		return errors.New("must be " + urlForm)
	}
	if _, _, err := clientOptions(address); err != nil {
		return withoutURL(err)
	}
	return nil
}

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
