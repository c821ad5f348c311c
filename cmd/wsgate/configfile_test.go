package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/channels"
)

// writeConfig writes content to wsgate.yaml in a directory of the test's and
// returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wsgate.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func TestConfigFileSetsEveryKindOfValue(t *testing.T) {
	path := writeConfig(t, `# every type of flag
max-conns-per-user: 9
ping-interval: 45s
insecure-user-id: true
max-messages-per-second: 2.5
log-format: json
allowed-origins: "https://a.example, https://b.example"
max-subscriptions-per-connection: 0
client-broadcast: everyone
`)
	parsed, err := parseOptions([]string{"-config", path}, environment(nil), io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	if parsed.maxConnectionsPerUser != 9 || parsed.pingInterval != 45*time.Second || !parsed.insecureUserID ||
		parsed.maxMessagesPerSecond != 2.5 || parsed.logFormat != "json" ||
		!slices.Equal(parsed.origins(), []string{"https://a.example", "https://b.example"}) ||
		parsed.subscriptionLimit() != -1 || !parsed.everyClientMayBroadcast() {
		t.Fatalf("parsed %+v; want every value of the file", parsed)
	}
	if parsed.pingTimeout != 10*time.Second || parsed.addr != ":8080" {
		t.Fatalf("ping timeout %v, addr %q: a key the file does not give must keep its default", parsed.pingTimeout, parsed.addr)
	}
}

// TestConfigFilePrecedence: a flag wins over its variable, a variable over the file,
// the file over the default; WSGATE_CONFIG names the file when -config does not.
func TestConfigFilePrecedence(t *testing.T) {
	path := writeConfig(t, "max-conns-per-user: 3\nping-interval: 45s\n")
	other := writeConfig(t, "max-conns-per-user: 8\n")
	tests := map[string]struct {
		arguments []string
		variables map[string]string
		wantLimit int
	}{
		"the file":                {[]string{"-config", path}, nil, 3},
		"a variable over it":      {[]string{"-config", path}, map[string]string{"WSGATE_MAX_CONNS_PER_USER": "4"}, 4},
		"a flag over both":        {[]string{"-config", path, "-max-conns-per-user", "5"}, map[string]string{"WSGATE_MAX_CONNS_PER_USER": "4"}, 5},
		"a flag over the file":    {[]string{"-config", path, "-max-conns-per-user", "0"}, nil, 0},
		"the file by variable":    {nil, map[string]string{"WSGATE_CONFIG": path}, 3},
		"the flag's file":         {[]string{"-config", path}, map[string]string{"WSGATE_CONFIG": other}, 3},
		"no file, the default":    {nil, nil, 5},
		"the file's other values": {[]string{"-config", other}, nil, 8},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			parsed, err := parseOptions(test.arguments, environment(test.variables), io.Discard)
			if err != nil || parsed.maxConnectionsPerUser != test.wantLimit {
				t.Fatalf("parseOptions: %v, max-conns-per-user %d; want %d", err, parsed.maxConnectionsPerUser, test.wantLimit)
			}
		})
	}
}

// TestConfigFileErrorsNameTheFileLineAndKey: every problem of a file is a startup
// error (exit 2) in one line that starts with file:line, then the key.
func TestConfigFileErrorsNameTheFileLineAndKey(t *testing.T) {
	tests := map[string]struct {
		content   string
		arguments []string
		want      string
	}{
		"unknown key": {"addr: 127.0.0.1:0\nmax-conn-per-user: 5\n", nil,
			`:2: unknown key "max-conn-per-user"; the keys are the flag names without the dash (wsgate -h) and namespaces`},
		"a flag's dash": {"-addr: 127.0.0.1:0\n", nil,
			`:1: unknown key "-addr"; the keys are the flag names without the dash (wsgate -h) and namespaces`},
		"syntax":               {"addr: 127.0.0.1:0\nping-interval: 30s\nlog-level: 'debug\n", nil, ":3: could not find end character of single-quoted text"},
		"indentation":          {"namespaces:\n  - name: chat\n  subscribe: anyone\n", nil, ":3: value is not allowed in this context"},
		"syntax in JSON":       {"{\n  \"addr\": \"127.0.0.1:0\",\n  \"ping-interval\": \"30s\"\n  \"log-level\": \"info\"\n}\n", nil, ":4: ',' or '}' must be specified"},
		"a list for a value":   {"ping-interval: [30s, 40s]\n", nil, ":1: ping-interval: a list, not a duration"},
		"a mapping for a flag": {"\nmax-connections:\n  limit: 5\n", nil, ":3: max-connections: a mapping, not a whole number"},
		"not a number":         {"max-connections: many\n", nil, `:1: max-connections: "many": not a whole number`},
		"not a boolean":        {"insecure-user-id: maybe\n", nil, `:1: insecure-user-id: "maybe": not true or false`},
		"no unit":              {"ping-interval: 30\n", nil, `:1: ping-interval: "30": a duration needs a unit, e.g. 30s or 1m`},
		"no value":             {"ping-interval:\n", nil, ":1: ping-interval: no value; give a duration or remove the key"},
		"invalid value":        {"addr: 127.0.0.1:0\nping-timeout: -1s\n", nil, ":2: ping-timeout: -1s: must be positive"},
		"invalid text":         {"log-level: loud\n", nil, `:1: log-level: "loud": must be debug, info, warn or error`},
		"hidden secret":        {"jwt-secret: short\n", nil, ":1: jwt-secret: (value hidden): must be at least 32 bytes, it has 5"},
		"a command":            {"version: true\n", nil, ":1: version cannot be set in the file, only on the command line"},
		"another file":         {"config: other.yaml\n", nil, ":1: config cannot be set in the file, only on the command line"},
		"a key twice":          {"addr: 127.0.0.1:0\nlog-level: info\nlog-level: debug\n", nil, `:3: mapping key "log-level" already defined at [2:1]`},
		"two documents":        {"addr: 127.0.0.1:0\n---\nlog-level: debug\n", nil, ":2: a second YAML document; the file holds one"},
		"an empty second one":  {"---\naddr: 127.0.0.1:0\n---\n", nil, ":3: a second YAML document; the file holds one"},
		"not a mapping":        {"- addr: 127.0.0.1:0\n", nil, ":1: the file is a list; it must be a mapping of settings (name: value)"},
		"an unknown alias":     {"ping-timeout: *timeout\n", nil, ":1: *timeout: no anchor &timeout before it"},
		"checked under a flag": {"ping-interval: 30\n", []string{"-ping-interval", "10s"}, `:1: ping-interval: "30": a duration needs a unit, e.g. 30s or 1m`},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, test.content)
			code, output := runOutput(append([]string{"-config", path}, test.arguments...), nil)
			if want := "wsgate: " + path + test.want + "\n"; code != 2 || output != want {
				t.Fatalf("exit %d, output %q; want exit 2 and %q", code, output, want)
			}
		})
	}
}

// TestConfigFileRulesReadAsTheFlags: a value the file gives is refused with the same
// words as the same value given to the flag: "-name value: rule" on the command line,
// "file:line: name: value: rule" in the file.
func TestConfigFileRulesReadAsTheFlags(t *testing.T) {
	for _, test := range []struct{ name, value string }{
		{"ping-timeout", "-1s"},
		{"ping-interval", "5"},
		{"max-conns-per-user", "-1"},
		{"max-connections", "many"},
		{"max-pending-bytes", "1000"},
		{"addr", "8080"},
		{"log-level", "loud"},
		{"cluster-lease", "100ms"},
		{"jwt-secret", "short"},
		{"redis-url", "ftp://cache:6379"},
		{"max-subscriptions-per-connection", "-1"},
		{"client-broadcast", "nobody"},
	} {
		_, flagOutput := runOutput([]string{"-" + test.name, test.value}, nil)
		path := writeConfig(t, test.name+": "+test.value+"\n")
		_, fileOutput := runOutput([]string{"-config", path}, nil)
		flagRule, flagForm := strings.CutPrefix(strings.SplitN(flagOutput, "\n", 2)[0], "wsgate: -"+test.name+" ")
		fileRule, fileForm := strings.CutPrefix(strings.TrimSuffix(fileOutput, "\n"), "wsgate: "+path+":1: "+test.name+": ")
		if !flagForm || !fileForm || flagRule != fileRule {
			t.Errorf("%s %s: the flag says %q, the file %q; want the same value and rule", test.name, test.value, flagOutput, fileOutput)
		}
	}
}

func TestConfigFileReadsNamespaces(t *testing.T) {
	path := writeConfig(t, `namespaces:
  - name: chat
    subscribe: authenticated
    publish: subscribers
    publisher_receives: true
    max_subscribers: 500
  - name: inbox
    personal: true
  - {name: "", publish: off}
  - name: feed
    history_size: 100
    history_ttl: 90s
    recover_max: 50
  - name: room
    subscribe_check: true
    publish_check: true
    presence: true
    join_leave: true
`)
	parsed, err := parseOptions([]string{"-config", path, "-subscribe-url", "http://127.0.0.1:9000/subscribe",
		"-publish-url", "http://127.0.0.1:9000/publish"}, environment(nil), io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	want := []channels.NamespaceOptions{
		{Name: "chat", Subscribe: channels.SubscribeAuthenticated, Publish: channels.PublishSubscribers, PublisherReceives: true, MaxSubscribers: 500},
		{Name: "inbox", Personal: true},
		{Name: "", Publish: channels.PublishOff},
		{Name: "feed", HistorySize: 100, HistoryTTL: 90 * time.Second, RecoverMax: 50},
		{Name: "room", SubscribeCheck: true, PublishCheck: true, Presence: true, JoinLeave: true},
	}
	if !reflect.DeepEqual(parsed.namespaces, want) {
		t.Fatalf("namespaces %+v, want %+v", parsed.namespaces, want)
	}
}

// TestConfigFileNamespaceErrorsNameTheLine: an invalid namespace option points at
// the line of its key, with channels' own words for what is wrong.
func TestConfigFileNamespaceErrorsNameTheLine(t *testing.T) {
	tests := map[string]struct {
		content   string
		variables map[string]string
		want      string
	}{
		"bad subscribe mode": {"namespaces:\n  - name: chat\n    subscribe: everyone\n", nil,
			`:3: namespace "chat": subscribe: "everyone" is not one of anyone, authenticated, token`},
		"bad publish mode": {"namespaces:\n  - name: news\n  - name: chat\n    publish: on\n", nil,
			`:4: namespace "chat": publish: "on" is not one of off, subscribers, authenticated`},
		"negative max_subscribers": {"namespaces:\n  - name: chat\n    max_subscribers: -1\n", nil,
			`:3: namespace "chat": max_subscribers: -1 is negative (0 means unlimited)`},
		"listed twice": {"namespaces:\n  - name: chat\n  - name: news\n  - name: chat\n    publish: subscribers\n", nil,
			`:4: namespace "chat": name: the namespace is listed twice (first at line 2)`},
		"personal read by anyone": {"namespaces:\n  - name: inbox\n    personal: true\n    subscribe: anyone\n", nil,
			`:4: namespace "inbox": subscribe: "anyone" would let every connection read personal channels; a personal namespace takes token (or nothing)`},
		"personal read by anyone authenticated": {"namespaces:\n  - name: inbox\n    subscribe: authenticated\n    personal: true\n",
			map[string]string{"WSGATE_JWT_SECRET": flagSecret},
			`:3: namespace "inbox": subscribe: "authenticated" would let every connection read personal channels; a personal namespace takes token (or nothing)`},
		"bad name": {"namespaces:\n  - name: chat:room\n", nil,
			`:2: namespace "chat:room": name: contains ':', which ends a namespace`},
		"unknown key": {"namespaces:\n  - name: chat\n    presense: true\n", nil,
			`:3: namespaces: unknown key "presense"; an entry has history_size, history_ttl, join_leave, max_subscribers, name, personal, presence, publish, publish_check, publisher_receives, recover_max, subscribe, subscribe_check`},
		"presence not a boolean": {"namespaces:\n  - name: chat\n    presence: yes please\n", nil,
			`:3: namespaces: presence: "yes please": not true or false`},
		"subscribe_check without its url": {"namespaces:\n  - name: news\n  - name: chat\n    publish: subscribers\n    subscribe_check: true\n", nil,
			`:5: namespace "chat": subscribe_check: needs -subscribe-url, the backend URL that answers the check`},
		"publish_check without its url": {"namespaces:\n  - name: chat\n    publish_check: true\n",
			map[string]string{"WSGATE_SUBSCRIBE_URL": "http://127.0.0.1:9000/subscribe"},
			`:3: namespace "chat": publish_check: needs -publish-url, the backend URL that answers the check`},
		"history_ttl without a unit": {"namespaces:\n  - name: chat\n    history_size: 10\n    history_ttl: 300\n", nil,
			`:4: namespaces: history_ttl: "300": a duration needs a unit, e.g. 30s or 1m`},
		"history_ttl without history_size": {"namespaces:\n  - name: chat\n    history_ttl: 5m\n", nil,
			`:3: namespace "chat": history_ttl: needs history_size (the namespace keeps no history)`},
		"negative history_size": {"namespaces:\n  - name: chat\n    history_size: -1\n", nil,
			`:3: namespace "chat": history_size: -1 is negative (0 means no history)`},
		"no name":         {"namespaces:\n  - subscribe: anyone\n", nil, `:2: namespaces: an entry needs a name ("" for the default namespace, channels without ':')`},
		"not a number":    {"namespaces:\n  - name: chat\n    max_subscribers: many\n", nil, `:3: namespaces: max_subscribers: "many": not a whole number`},
		"not a boolean":   {"namespaces:\n  - name: chat\n    personal: maybe\n", nil, `:3: namespaces: personal: "maybe": not true or false`},
		"a list for text": {"namespaces:\n  - name: [chat]\n", nil, `:2: namespaces: name: a list, not text`},
		"not a list":      {"namespaces:\n  name: chat\n", nil, ":2: namespaces: a mapping, not a list of namespaces (- name: ...)"},
		"a merge key":     {"namespaces:\n  - <<: {name: chat}\n", nil, ":2: a key must be a name, not a merge key (<<)"},
		"an entry of text": {"namespaces:\n  - chat\n", nil,
			`:2: namespaces: an entry is a mapping (name: ..., subscribe: ...), not a single value ("chat")`},
		"in JSON": {"{\n  \"namespaces\": [\n    {\"name\": \"chat\"},\n    {\"name\": \"news\", \"max_subscribers\": -5}\n  ]\n}\n", nil,
			`:4: namespace "news": max_subscribers: -5 is negative (0 means unlimited)`},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, test.content)
			code, output := runOutput([]string{"-config", path}, test.variables)
			if want := "wsgate: " + path + test.want + "\n"; code != 2 || output != want {
				t.Fatalf("exit %d, output %q; want exit 2 and %q", code, output, want)
			}
		})
	}
}

func TestConfigFileInJSON(t *testing.T) {
	path := writeConfig(t, `{
  "max-conns-per-user": 7,
  "ping-interval": "45s",
  "insecure-user-id": true,
  "namespaces": [{"name": "chat", "publish": "subscribers", "max_subscribers": 10}]
}
`)
	parsed, err := parseOptions([]string{"-config", path}, environment(nil), io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	want := []channels.NamespaceOptions{{Name: "chat", Publish: channels.PublishSubscribers, MaxSubscribers: 10}}
	if parsed.maxConnectionsPerUser != 7 || parsed.pingInterval != 45*time.Second || !parsed.insecureUserID ||
		!reflect.DeepEqual(parsed.namespaces, want) {
		t.Fatalf("parsed %+v; want the JSON document's values", parsed)
	}
}

// TestConfigFileFollowsAliases: a YAML alias stands for the value its anchor marks,
// and a tag does not change how the flag reads the value.
func TestConfigFileFollowsAliases(t *testing.T) {
	path := writeConfig(t, "ping-timeout: &timeout 20s\nhandshake-timeout: *timeout\nmax-connections: !!str 7\n")
	parsed, err := parseOptions([]string{"-config", path}, environment(nil), io.Discard)
	if err != nil || parsed.pingTimeout != 20*time.Second || parsed.handshakeTimeout != 20*time.Second || parsed.maxConnections != 7 {
		t.Fatalf("parseOptions: %v, ping timeout %v, handshake timeout %v, max connections %d; want 20s, 20s, 7",
			err, parsed.pingTimeout, parsed.handshakeTimeout, parsed.maxConnections)
	}
}

// TestConfigFileOfCommentsSetsNothing: an empty file, or one of comments only, is
// valid and leaves every default.
func TestConfigFileOfCommentsSetsNothing(t *testing.T) {
	for _, content := range []string{"", "# nothing yet\n", "{}\n", "---\n", "---\n# a header, then nothing\n...\n"} {
		path := writeConfig(t, content)
		parsed, err := parseOptions([]string{"-config", path}, environment(nil), io.Discard)
		if err != nil || parsed.maxConnectionsPerUser != 5 || len(parsed.namespaces) != 0 {
			t.Errorf("%q: %v, max-conns-per-user %d, namespaces %v; want the defaults", content, err, parsed.maxConnectionsPerUser, parsed.namespaces)
		}
	}
}

// TestAMissingConfigFileNamesWhereItsPathCameFrom: -config or WSGATE_CONFIG.
func TestAMissingConfigFileNamesWhereItsPathCameFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	code, output := runOutput([]string{"-config", path}, nil)
	if want := `wsgate: -config "` + path + "\": no such file or directory\n"; code != 2 || output != want {
		t.Errorf("exit %d, output %q; want exit 2 and %q", code, output, want)
	}
	code, output = runOutput(nil, map[string]string{"WSGATE_CONFIG": path})
	if want := `wsgate: WSGATE_CONFIG="` + path + "\": no such file or directory\n"; code != 2 || output != want {
		t.Errorf("exit %d, output %q; want exit 2 and %q", code, output, want)
	}
}

// TestNamespaceKeysAreTheOptionsYAMLTags: the file reads exactly the keys
// channels.NamespaceOptions declares, so an option added there (the history and
// presence issues add some) fails here until the file reads it too.
func TestNamespaceKeysAreTheOptionsYAMLTags(t *testing.T) {
	var tags []string
	for field := range reflect.TypeFor[channels.NamespaceOptions]().Fields() {
		tags = append(tags, field.Tag.Get("yaml"))
	}
	slices.Sort(tags)
	if keys := flagNames(namespaceFields(&channels.NamespaceOptions{})); keys != strings.Join(tags, ", ") {
		t.Fatalf("the file reads %s; channels.NamespaceOptions has %s", keys, strings.Join(tags, ", "))
	}
}

// TestTheExampleConfigFileStarts: wsgate.example.yaml, the file the documentation
// shows (docs/configuration.md holds a copy), is valid with and without JWT and
// starts a node, so it cannot go stale.
func TestTheExampleConfigFileStarts(t *testing.T) {
	const example = "../../wsgate.example.yaml"
	content, err := os.ReadFile(example)
	if err != nil {
		t.Fatalf("read %s: %v", example, err)
	}
	document, err := os.ReadFile("../../docs/configuration.md")
	if err != nil || !strings.Contains(string(document), "```yaml\n"+string(content)+"```\n") {
		t.Errorf("docs/configuration.md (%v) does not show %s as it is", err, example)
	}
	for _, variables := range []map[string]string{nil, {"WSGATE_JWT_SECRET": flagSecret}} {
		parsed, err := parseOptions([]string{"-config", example}, environment(variables), io.Discard)
		if err != nil || len(parsed.namespaces) < 3 {
			t.Fatalf("%s with %v: %v, %d namespaces; want it valid with several namespaces", example, variables, err, len(parsed.namespaces))
		}
		if code, output := runStopped(t, []string{"-config", example}, variables); code != 0 {
			t.Fatalf("wsgate -config %s with %v: exit %d, output %q", example, variables, code, output)
		}
	}
}

// TestTheConfigurationDocumentNamesEveryKey: docs/configuration.md lists every key
// the file takes.
func TestTheConfigurationDocumentNamesEveryKey(t *testing.T) {
	document, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	keys := []string{namespacesKey}
	flags := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	defineFlags(flags, &options{})
	flags.VisitAll(func(f *flag.Flag) {
		if settableInFile(f.Name) {
			keys = append(keys, f.Name)
		}
	})
	namespaceFields(&channels.NamespaceOptions{}).VisitAll(func(f *flag.Flag) { keys = append(keys, f.Name) })
	for _, key := range keys {
		if !strings.Contains(string(document), "`"+key+"`") {
			t.Errorf("docs/configuration.md does not name `%s`", key)
		}
	}
}

// TestTheReadmeConfigExampleIsValid: the README's short example file loads.
func TestTheReadmeConfigExampleIsValid(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README.md: %v", err)
	}
	_, section, found := strings.Cut(string(readme), "### Configuration file\n")
	_, example, hasBlock := strings.Cut(section, "```yaml\n")
	example, _, closed := strings.Cut(example, "```")
	if !found || !hasBlock || !closed {
		t.Fatal("README.md has no yaml block under ### Configuration file")
	}
	parsed, err := parseOptions([]string{"-config", writeConfig(t, example)}, environment(nil), io.Discard)
	if err != nil || len(parsed.namespaces) == 0 {
		t.Fatalf("the README's example: %v, %d namespaces; want it valid with namespaces", err, len(parsed.namespaces))
	}
}
