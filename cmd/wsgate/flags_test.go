package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// runOutput runs the binary's run with arguments and variables under a context
// that is already done, and returns the exit code and everything printed.
func runOutput(arguments []string, variables map[string]string) (int, string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var output bytes.Buffer
	code := run(ctx, arguments, environment(variables), &output, &output)
	return code, output.String()
}

// TestFlagErrorsNameTheFlagAndItsValue: each bad value is reported in one line that
// names the one flag at fault, the value as given and what is wrong, with exit 2.
func TestFlagErrorsNameTheFlagAndItsValue(t *testing.T) {
	tests := map[string]struct {
		arguments []string
		want      string
	}{
		"negative timeout":       {[]string{"-ping-timeout", "-1s"}, "wsgate: -ping-timeout -1s: must be positive\n"},
		"negative interval":      {[]string{"-ping-interval", "-5s"}, "wsgate: -ping-interval -5s: must be positive, or 0 for no heartbeat\n"},
		"zero handshake timeout": {[]string{"-handshake-timeout", "0"}, "wsgate: -handshake-timeout 0s: must be positive\n"},
		"zero shutdown timeout":  {[]string{"-shutdown-timeout", "0s"}, "wsgate: -shutdown-timeout 0s: must be positive\n"},
		"negative rate":          {[]string{"-max-messages-per-second", "-1"}, "wsgate: -max-messages-per-second -1: must be 0 (unlimited) or more\n"},
		"negative burst":         {[]string{"-message-burst", "-2"}, "wsgate: -message-burst -2: must be 0 (twice the rate) or more\n"},
		"negative write delay":   {[]string{"-write-delay", "-1ms"}, "wsgate: -write-delay -1ms: must be 0 or more\n"},
		"negative fanout delay":  {[]string{"-max-fanout-delay", "-1ms"}, "wsgate: -max-fanout-delay -1ms: must be 0 (write every fan-out at once) or more\n"},
		"negative send buffer":   {[]string{"-socket-send-buffer", "-1"}, "wsgate: -socket-send-buffer -1: must be 0 (kernel autotuning) or more\n"},
		"negative user limit":    {[]string{"-max-conns-per-user", "-1"}, "wsgate: -max-conns-per-user -1: must be 0 (unlimited) or more\n"},
		"negative node limit":    {[]string{"-max-connections", "-1"}, "wsgate: -max-connections -1: must be 0 (no limit) or more\n"},
		"zero message size":      {[]string{"-max-message-size", "0"}, "wsgate: -max-message-size 0: must be positive\n"},
		"zero body size":         {[]string{"-max-body-size", "0"}, "wsgate: -max-body-size 0: must be positive\n"},
		"API port only": {[]string{"-api-addr", "9090"},
			`wsgate: -api-addr "9090": must be host:port, e.g. :8080 or 127.0.0.1:8080` + "\n"},
		"pending below message": {[]string{"-max-pending-bytes", "1000"},
			"wsgate: -max-pending-bytes 1000: must be at least -max-message-size (65536)\n"},
		"unknown log level":  {[]string{"-log-level", "verbose"}, `wsgate: -log-level "verbose": must be debug, info, warn or error` + "\n"},
		"unknown log format": {[]string{"-log-format", "xml"}, `wsgate: -log-format "xml": must be text or json` + "\n"},
		"short lease":        {[]string{"-cluster-lease", "100ms"}, "wsgate: -cluster-lease 100ms: must be at least 500ms\n"},
		"port only":          {[]string{"-addr", "8080"}, `wsgate: -addr "8080": must be host:port, e.g. :8080 or 127.0.0.1:8080` + "\n"},
		"port out of range":  {[]string{"-addr", ":65536"}, `wsgate: -addr ":65536": port "65536" is not a number from 0 to 65535` + "\n"},
		"short secret": {[]string{"-jwt-secret", "not-secret-enough"},
			"wsgate: -jwt-secret (value hidden): must be at least 32 bytes, it has 17\n"},
		"negative subscription limit": {[]string{"-max-subscriptions-per-connection", "-1"},
			"wsgate: -max-subscriptions-per-connection -1: must be 0 (unlimited) or more\n"},
		"unknown broadcast rule": {[]string{"-client-broadcast", "nobody"},
			`wsgate: -client-broadcast "nobody": must be grant or everyone` + "\n"},
		"rpc url without scheme": {[]string{"-rpc-url", "localhost:8000/rpc"},
			`wsgate: -rpc-url "localhost:8000/rpc": must be an http:// or https:// URL` + "\n"},
		"subscribe url without scheme": {[]string{"-subscribe-url", "backend/subscribe"},
			`wsgate: -subscribe-url "backend/subscribe": must be an http:// or https:// URL` + "\n"},
		"publish url of another scheme": {[]string{"-publish-url", "ws://backend/publish"},
			`wsgate: -publish-url "ws://backend/publish": must be an http:// or https:// URL` + "\n"},
		"events url of another scheme": {[]string{"-events-url", "ftp://host/events"},
			`wsgate: -events-url "ftp://host/events": must be an http:// or https:// URL` + "\n"},
		"zero callback workers":  {[]string{"-callback-workers", "0"}, "wsgate: -callback-workers 0: must be positive\n"},
		"zero callback timeout":  {[]string{"-callback-timeout", "0s"}, "wsgate: -callback-timeout 0s: must be positive\n"},
		"negative rpc limit":     {[]string{"-max-rpcs-per-connection", "-1"}, "wsgate: -max-rpcs-per-connection -1: must be 0 (unlimited) or more\n"},
		"hidden callback secret": {[]string{"-callback-workers", "0", "-callback-secret", "s3cret"}, "wsgate: -callback-workers 0: must be positive\n"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			code, output := runOutput(test.arguments, nil)
			if code != 2 || output != test.want {
				t.Fatalf("exit %d, output %q; want exit 2 and %q", code, output, test.want)
			}
		})
	}
}

// TestCallbackFlagsMapOntoTheGatewayConfig: the callbacks' flags and variables
// reach gateway.CallbacksConfig, -max-rpcs-per-connection 0 as unlimited.
func TestCallbackFlagsMapOntoTheGatewayConfig(t *testing.T) {
	parsed, err := parseOptions([]string{"-rpc-url", "http://127.0.0.1:9000/rpc", "-callback-timeout", "250ms",
		"-connect-url", "http://127.0.0.1:9000/connect", "-connect-headers", "Cookie, X-Real-IP",
		"-max-rpcs-per-connection", "0", "-events-batch-size", "50", "-subscribe-url", "http://127.0.0.1:9000/subscribe"},
		environment(map[string]string{"WSGATE_EVENTS_URL": "https://backend/events", "WSGATE_CALLBACK_SECRET": "s",
			"WSGATE_PUBLISH_URL": "http://127.0.0.1:9000/publish"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	config := parsed.callbacksConfig()
	if config.RPCURL != "http://127.0.0.1:9000/rpc" || config.EventsURL != "https://backend/events" ||
		string(config.Client.Secret) != "s" || config.Client.Timeout != 250*time.Millisecond || config.MaxRPCsPerConnection != -1 ||
		config.Events.BatchSize != 50 || config.Events.BatchDelay != 100*time.Millisecond || config.Client.Workers != 32 ||
		config.ConnectURL != "http://127.0.0.1:9000/connect" || strings.Join(config.ConnectHeaders, "|") != "Cookie|X-Real-IP" ||
		config.SubscribeURL != "http://127.0.0.1:9000/subscribe" || config.PublishURL != "http://127.0.0.1:9000/publish" {
		t.Fatalf("callbacks config %+v", config)
	}
}

// TestFlagParseErrorsPointToTheHelp: a value of the wrong type, an unknown flag or a
// stray argument prints the error and one line pointing to -h, not the whole usage.
func TestFlagParseErrorsPointToTheHelp(t *testing.T) {
	const hint = "run wsgate -h for the flag list\n"
	tests := map[string]struct {
		arguments []string
		want      string
	}{
		"duration without unit": {[]string{"-ping-interval", "5"}, `wsgate: -ping-interval "5": a duration needs a unit, e.g. 30s or 1m` + "\n"},
		"not a duration": {[]string{"-ping-timeout", "soon"},
			`wsgate: -ping-timeout "soon": not a duration; write e.g. 500ms, 30s, 1m or 1h30m` + "\n"},
		"not a number":       {[]string{"-max-connections", "many"}, `wsgate: -max-connections "many": not a whole number` + "\n"},
		"too large a number": {[]string{"-max-connections", "99999999999999999999"}, `wsgate: -max-connections "99999999999999999999": out of range` + "\n"},
		"not a rate":         {[]string{"-max-messages-per-second", "fast"}, `wsgate: -max-messages-per-second "fast": not a number` + "\n"},
		"not a boolean":      {[]string{"-insecure-user-id=maybe"}, `wsgate: -insecure-user-id "maybe": not true or false` + "\n"},
		"unknown flag":       {[]string{"-port", "8080"}, "wsgate: flag provided but not defined: -port\n"},
		"stray argument": {[]string{"-addr", ":0", "8080"},
			`wsgate: unexpected argument "8080" (a flag's value follows its name: -name value)` + "\n"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			code, output := runOutput(test.arguments, nil)
			if code != 2 || output != test.want+hint {
				t.Fatalf("exit %d, output %q; want exit 2 and %q", code, output, test.want+hint)
			}
		})
	}
}

// TestEnvironmentErrorsNameTheVariable: a bad WSGATE_* value is reported under the
// variable's name, not the flag's.
func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	tests := map[string]struct {
		variables map[string]string
		want      string
	}{
		"duration without unit": {map[string]string{"WSGATE_PING_INTERVAL": "5"},
			`wsgate: WSGATE_PING_INTERVAL="5": a duration needs a unit, e.g. 30s or 1m` + "\n"},
		"not a number":      {map[string]string{"WSGATE_MAX_CONNECTIONS": "many"}, `wsgate: WSGATE_MAX_CONNECTIONS="many": not a whole number` + "\n"},
		"negative timeout":  {map[string]string{"WSGATE_PING_TIMEOUT": "-1s"}, "wsgate: WSGATE_PING_TIMEOUT=-1s: must be positive\n"},
		"unknown log level": {map[string]string{"WSGATE_LOG_LEVEL": "loud"}, `wsgate: WSGATE_LOG_LEVEL="loud": must be debug, info, warn or error` + "\n"},
		"short secret": {map[string]string{"WSGATE_JWT_SECRET": "not-secret-enough"},
			"wsgate: WSGATE_JWT_SECRET=(value hidden): must be at least 32 bytes, it has 17\n"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			code, output := runOutput(nil, test.variables)
			if code != 2 || output != test.want {
				t.Fatalf("exit %d, output %q; want exit 2 and %q", code, output, test.want)
			}
		})
	}
}

// TestTheFlagWinsOverItsVariable: a flag given on the command line is checked, not
// its variable, so a bad variable behind a good flag is no error.
func TestTheFlagWinsOverItsVariable(t *testing.T) {
	code, output := runOutput([]string{"-addr", "127.0.0.1:0", "-ping-timeout", "-1s"}, map[string]string{"WSGATE_PING_TIMEOUT": "5s"})
	if code != 2 || !strings.Contains(output, "-ping-timeout -1s: must be positive") {
		t.Fatalf("exit %d, output %q; want the flag's value reported", code, output)
	}
	code, output = runOutput([]string{"-addr", "127.0.0.1:0", "-ping-timeout", "5s", "-shutdown-timeout", "1s"},
		map[string]string{"WSGATE_PING_TIMEOUT": "soon"})
	if code != 0 {
		t.Fatalf("exit %d, output %q; the variable behind a given flag must be ignored", code, output)
	}
}

func TestHelpPrintsEveryFlagWithItsTypeAndVariable(t *testing.T) {
	code, output := runOutput([]string{"-h"}, nil)
	if code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, want := range []string{"Usage: wsgate [flags]", "-ping-interval duration", "-max-connections int",
		"(env WSGATE_PING_INTERVAL)", "-insecure-user-id\n", "A duration takes a unit: 500ms, 30s, 1m, 1h30m.",
		"rediss://... for TLS", "-config FILE", "(env WSGATE_CONFIG)", "in the -config file"} {
		if !strings.Contains(output, want) {
			t.Errorf("-h output lacks %q:\n%s", want, output)
		}
	}
}

// TestChannelFlagsMapOntoTheGatewayConfig: the command line's 0 means unlimited,
// which gateway.Config spells as a negative limit (its 0 is the default, 128), and
// -client-broadcast everyone lets every client broadcast.
func TestChannelFlagsMapOntoTheGatewayConfig(t *testing.T) {
	tests := map[string]struct {
		arguments         []string
		variables         map[string]string
		wantLimit         int
		wantEveryoneSends bool
	}{
		"defaults":            {nil, nil, 128, false},
		"unlimited":           {[]string{"-max-subscriptions-per-connection", "0"}, nil, -1, false},
		"a limit":             {[]string{"-max-subscriptions-per-connection", "10"}, nil, 10, false},
		"limit variable":      {nil, map[string]string{"WSGATE_MAX_SUBSCRIPTIONS_PER_CONNECTION": "7"}, 7, false},
		"everyone":            {[]string{"-client-broadcast", "everyone"}, nil, 128, true},
		"everyone variable":   {nil, map[string]string{"WSGATE_CLIENT_BROADCAST": "everyone"}, 128, true},
		"grant over variable": {[]string{"-client-broadcast", "grant"}, map[string]string{"WSGATE_CLIENT_BROADCAST": "everyone"}, 128, false},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			parsed, err := parseOptions(test.arguments, environment(test.variables), io.Discard)
			if err != nil {
				t.Fatalf("parseOptions: %v", err)
			}
			if parsed.subscriptionLimit() != test.wantLimit || parsed.everyClientMayBroadcast() != test.wantEveryoneSends {
				t.Fatalf("limit %d, every client may broadcast %v; want %d, %v",
					parsed.subscriptionLimit(), parsed.everyClientMayBroadcast(), test.wantLimit, test.wantEveryoneSends)
			}
		})
	}
}

func TestPprofIsOnUnlessTurnedOff(t *testing.T) {
	tests := map[string]struct {
		arguments []string
		variables map[string]string
		want      bool
	}{
		"default":            {nil, nil, true},
		"flag off":           {[]string{"-pprof=false"}, nil, false},
		"variable off":       {nil, map[string]string{"WSGATE_PPROF": "false"}, false},
		"flag over variable": {[]string{"-pprof"}, map[string]string{"WSGATE_PPROF": "false"}, true},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			parsed, err := parseOptions(test.arguments, environment(test.variables), io.Discard)
			if err != nil || parsed.pprof != test.want {
				t.Fatalf("parseOptions: %v, pprof %v; want %v", err, parsed.pprof, test.want)
			}
		})
	}
	code, output := runStopped(t, []string{"-pprof=false"}, nil)
	if code != 0 || !strings.Contains(output, "no -api-key: the publish API, stats and metrics answer loopback clients only") {
		t.Fatalf("exit %d, output %q; want a warning that no longer names pprof", code, output)
	}
}
