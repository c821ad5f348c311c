package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	flagSecret = "a-jwt-secret-of-thirty-two-bytes-or-more"
	flagAPIKey = "an-api-key-for-the-flag-tests"
)

// environment returns a lookup over variables.
func environment(variables map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, found := variables[name]
		return value, found
	}
}

// runStopped runs the binary with arguments and variables under a context that is
// already done: a valid configuration starts, listens on a free loopback port and
// shuts down at once. It returns the exit code and everything printed.
func runStopped(t *testing.T, arguments []string, variables map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var output bytes.Buffer
	code := run(ctx, append([]string{"-addr", "127.0.0.1:0", "-shutdown-timeout", "1s"}, arguments...),
		environment(variables), &output, &output)
	return code, output.String()
}

func TestAuthFlagCombinationsAreStartupErrors(t *testing.T) {
	tests := map[string]struct {
		arguments []string
		variables map[string]string
		want      string
	}{
		"insecure user id with a secret": {[]string{"-insecure-user-id", "-jwt-secret", flagSecret}, nil,
			"-insecure-user-id cannot be combined with JWT"},
		"insecure user id with a public key": {[]string{"-insecure-user-id", "-jwt-public-key", "key.pem"}, nil,
			"-insecure-user-id cannot be combined with JWT"},
		"insecure user id with a secret from the environment": {[]string{"-insecure-user-id"},
			map[string]string{"WSGATE_JWT_SECRET": flagSecret}, "-insecure-user-id cannot be combined with JWT"},
		"secret and public key": {[]string{"-jwt-secret", flagSecret, "-jwt-public-key", "key.pem"}, nil,
			"exclude each other"},
		"audience without a key": {[]string{"-jwt-audience", "app"}, nil, "need -jwt-secret or -jwt-public-key"},
		"issuer without a key":   {[]string{"-jwt-issuer", "backend"}, nil, "need -jwt-secret or -jwt-public-key"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			code, output := runStopped(t, test.arguments, test.variables)
			if code != 2 || !strings.Contains(output, test.want) {
				t.Fatalf("exit %d, output %q; want exit 2 mentioning %q", code, output, test.want)
			}
			if strings.Contains(output, flagSecret) {
				t.Fatalf("the output shows the secret: %q", output)
			}
		})
	}
}

func TestUnusableAuthSettingsFailAtStart(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a key"), 0o600); err != nil {
		t.Fatalf("write: %v", err)
	}
	tests := map[string]struct {
		arguments []string
		code      int
		want      string
	}{
		"short secret":         {[]string{"-jwt-secret", "short-secret"}, 2, "-jwt-secret (value hidden): must be at least 32 bytes"},
		"missing key file":     {[]string{"-jwt-public-key", missing}, 1, "-jwt-public-key"},
		"key file is not PEM":  {[]string{"-jwt-public-key", notPEM}, 1, "not PEM"},
		"malformed origin":     {[]string{"-allowed-origins", "https://ok.example,app.example.com"}, 2, `-allowed-origins "https://ok.example,app.example.com"`},
		"origin with a path":   {[]string{"-allowed-origins", "https://app.example.com/login"}, 2, "allowed origin"},
		"origin of bad scheme": {[]string{"-allowed-origins", "ftp://files.example"}, 2, "allowed origin"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			code, output := runStopped(t, test.arguments, nil)
			if code != test.code || !strings.Contains(output, test.want) {
				t.Fatalf("exit %d, output %q; want exit %d mentioning %q", code, output, test.code, test.want)
			}
			if strings.Contains(output, "short-secret") {
				t.Fatalf("the output shows the secret: %q", output)
			}
		})
	}
}

func TestValidAuthSettingsStartWithoutShowingSecrets(t *testing.T) {
	code, output := runStopped(t, []string{"-jwt-audience", "app", "-allowed-origins", "https://app.example.com, *"},
		map[string]string{"WSGATE_JWT_SECRET": flagSecret, "WSGATE_API_KEY": flagAPIKey})
	if code != 0 {
		t.Fatalf("exit %d, output %q", code, output)
	}
	for _, secret := range []string{flagSecret, flagAPIKey} {
		if strings.Contains(output, secret) {
			t.Fatalf("the output shows a secret: %q", output)
		}
	}
	if strings.Contains(output, "no -api-key") || strings.Contains(output, "not authenticated") {
		t.Fatalf("warned about a missing key or secret that is set: %q", output)
	}

	code, output = runStopped(t, nil, nil)
	if code != 0 {
		t.Fatalf("exit %d, output %q", code, output)
	}
	for _, warning := range []string{"no -api-key: the publish API, stats, metrics and pprof answer loopback clients only",
		"clients are not authenticated"} {
		if !strings.Contains(output, warning) {
			t.Fatalf("output %q lacks the warning %q", output, warning)
		}
	}
}

func TestAuthFlagsReadTheirEnvironmentVariables(t *testing.T) {
	var output bytes.Buffer
	parsed, err := parseOptions(nil, environment(map[string]string{
		"WSGATE_JWT_PUBLIC_KEY":  "/etc/wsgate/key.pem",
		"WSGATE_JWT_AUDIENCE":    "app",
		"WSGATE_JWT_ISSUER":      "backend",
		"WSGATE_API_KEY":         flagAPIKey,
		"WSGATE_ALLOWED_ORIGINS": " https://a.example ,, http://localhost:3000,",
	}), &output)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	if parsed.jwtPublicKey != "/etc/wsgate/key.pem" || parsed.jwtAudience != "app" || parsed.jwtIssuer != "backend" ||
		parsed.apiKey != flagAPIKey {
		t.Fatalf("parsed %+v", parsed)
	}
	if got, want := parsed.origins(), []string{"https://a.example", "http://localhost:3000"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("origins %q, want %q", got, want)
	}
}
