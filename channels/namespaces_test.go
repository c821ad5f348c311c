package channels

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNamespaceOptionsValidateNamesTheNamespaceAndField(t *testing.T) {
	for _, test := range []struct {
		options NamespaceOptions
		field   string
	}{
		{NamespaceOptions{Name: "chat:room"}, "name"},
		{NamespaceOptions{Name: "two words"}, "name"},
		{NamespaceOptions{Name: "bad\xff"}, "name"},
		{NamespaceOptions{Name: strings.Repeat("n", MaxNameLength)}, "name"},
		{NamespaceOptions{Name: "chat", Subscribe: "everyone"}, "subscribe"},
		{NamespaceOptions{Name: "chat", Publish: "on"}, "publish"},
		{NamespaceOptions{Name: "chat", MaxSubscribers: -1}, "max_subscribers"},
		{NamespaceOptions{Name: "inbox", Personal: true, Subscribe: SubscribeAnyone}, "subscribe"},
		{NamespaceOptions{Name: "inbox", Personal: true, Subscribe: SubscribeAuthenticated}, "subscribe"},
		{NamespaceOptions{Name: "feed", HistorySize: -1}, "history_size"},
		{NamespaceOptions{Name: "feed", HistorySize: 10, HistoryTTL: -time.Second}, "history_ttl"},
		{NamespaceOptions{Name: "feed", HistorySize: 10, RecoverMax: -1}, "recover_max"},
		{NamespaceOptions{Name: "feed", HistoryTTL: time.Minute}, "history_ttl"},
		{NamespaceOptions{Name: "feed", RecoverMax: 10}, "recover_max"},
	} {
		err := test.options.Validate()
		var optionError *OptionError
		if !errors.As(err, &optionError) || optionError.Field != test.field || optionError.Namespace != test.options.Name {
			t.Errorf("Validate(%+v) = %v, want an error for namespace %q field %q", test.options, err, test.options.Name, test.field)
			continue
		}
		if !strings.Contains(err.Error(), test.field+":") || !strings.HasPrefix(err.Error(), "namespace ") {
			t.Errorf("error text %q does not name the namespace and field", err.Error())
		}
	}
}

func TestNamespaceOptionsValidateAcceptsZeroAndEveryMode(t *testing.T) {
	valid := []NamespaceOptions{{}, {Name: "chat"}, {Name: "inbox", Personal: true}, {Name: "inbox", Personal: true, Subscribe: SubscribeToken}}
	for _, subscribe := range []SubscribeMode{SubscribeAnyone, SubscribeAuthenticated, SubscribeToken} {
		for _, publish := range []PublishMode{PublishOff, PublishSubscribers, PublishAuthenticated} {
			valid = append(valid, NamespaceOptions{Name: "x", Subscribe: subscribe, Publish: publish, MaxSubscribers: 10, PublisherReceives: true})
		}
	}
	for _, options := range valid {
		if err := options.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", options, err)
		}
	}
}

func TestNewNamespacesRefusesDuplicatesAndInvalidOptions(t *testing.T) {
	if _, err := NewNamespaces([]NamespaceOptions{{Name: "chat"}, {Name: "news"}, {Name: "chat"}}, false); err == nil ||
		!strings.Contains(err.Error(), `namespace "chat": name:`) {
		t.Errorf("duplicate namespace: %v, want an error naming chat", err)
	}
	if _, err := NewNamespaces([]NamespaceOptions{{Name: "chat", Publish: "sometimes"}}, false); err == nil {
		t.Error("NewNamespaces accepted publish: sometimes")
	}
}

func TestLookupFindsTheNamespaceOrTheDefaultsOfTheAuthenticationMode(t *testing.T) {
	configured := []NamespaceOptions{
		{Name: "chat", Subscribe: SubscribeAuthenticated, Publish: PublishSubscribers, MaxSubscribers: 100},
		{Name: "", Subscribe: SubscribeAnyone},
		{Name: "inbox", Personal: true},
		{Name: "scores"},
	}
	for _, test := range []struct {
		authentication bool
		channel        string
		want           NamespaceOptions
	}{
		{false, "chat:lobby", NamespaceOptions{Name: "chat", Subscribe: SubscribeAuthenticated, Publish: PublishSubscribers, MaxSubscribers: 100}},
		{true, "chat:lobby", NamespaceOptions{Name: "chat", Subscribe: SubscribeAuthenticated, Publish: PublishSubscribers, MaxSubscribers: 100}},
		{true, "lobby", NamespaceOptions{Name: "", Subscribe: SubscribeAnyone, Publish: PublishOff}},
		// An unnamed namespace gets the built-in defaults, not those of "".
		{false, "other:x", NamespaceOptions{Name: "other", Subscribe: SubscribeAnyone, Publish: PublishOff}},
		{true, "other:x", NamespaceOptions{Name: "other", Subscribe: SubscribeToken, Publish: PublishOff}},
		// A configured namespace without modes takes the defaults of the mode.
		{false, "scores:1", NamespaceOptions{Name: "scores", Subscribe: SubscribeAnyone, Publish: PublishOff}},
		{true, "scores:1", NamespaceOptions{Name: "scores", Subscribe: SubscribeToken, Publish: PublishOff}},
		// A personal namespace is token-only even without authentication.
		{false, "inbox:alice", NamespaceOptions{Name: "inbox", Subscribe: SubscribeToken, Publish: PublishOff, Personal: true}},
	} {
		namespaces, err := NewNamespaces(configured, test.authentication)
		if err != nil {
			t.Fatal(err)
		}
		if got := namespaces.Lookup(test.channel); got != test.want {
			t.Errorf("authentication %v, Lookup(%q) = %+v, want %+v", test.authentication, test.channel, got, test.want)
		}
	}
}

func TestDefaultsWithoutAnyConfiguration(t *testing.T) {
	for authentication, want := range map[bool]NamespaceOptions{
		false: {Subscribe: SubscribeAnyone, Publish: PublishOff},
		true:  {Subscribe: SubscribeToken, Publish: PublishOff},
	} {
		namespaces, err := NewNamespaces(nil, authentication)
		if err != nil {
			t.Fatal(err)
		}
		if got := namespaces.Lookup("news"); got != want || DefaultNamespaceOptions(authentication) != want {
			t.Errorf("authentication %v: Lookup = %+v, DefaultNamespaceOptions = %+v, want %+v",
				authentication, got, DefaultNamespaceOptions(authentication), want)
		}
	}
}

// TestHistoryOptionsGetTheirDefaults: a namespace with history_size gets the
// default TTL and recovery bound; one without keeps none.
func TestHistoryOptionsGetTheirDefaults(t *testing.T) {
	namespaces, err := NewNamespaces([]NamespaceOptions{{Name: "feed", HistorySize: 100}, {Name: "log", HistorySize: 10,
		HistoryTTL: time.Hour, RecoverMax: 5}}, false)
	if err != nil {
		t.Fatal(err)
	}
	feed, log, plain := namespaces.Lookup("feed:a"), namespaces.Lookup("log:a"), namespaces.Lookup("other:a")
	if !feed.HasHistory() || feed.HistoryTTL != DefaultHistoryTTL || feed.RecoverMax != DefaultRecoverMax {
		t.Errorf("feed %+v", feed)
	}
	if log.HistoryTTL != time.Hour || log.RecoverMax != 5 {
		t.Errorf("log %+v", log)
	}
	if plain.HasHistory() || plain.HistoryTTL != 0 || plain.RecoverMax != 0 {
		t.Errorf("a namespace without history %+v", plain)
	}
}

// TestNamespacesCheckedListsTheCheckedNamespaces: Checked names the namespaces
// that ask for each check, in configuration order, and none for a plain list.
func TestNamespacesCheckedListsTheCheckedNamespaces(t *testing.T) {
	namespaces, err := NewNamespaces([]NamespaceOptions{{Name: "chat", SubscribeCheck: true, PublishCheck: true},
		{Name: "news"}, {Name: "room", PublishCheck: true}}, true)
	if err != nil {
		t.Fatal(err)
	}
	subscribe, publish := namespaces.Checked()
	if !slices.Equal(subscribe, []string{"chat"}) || !slices.Equal(publish, []string{"chat", "room"}) {
		t.Errorf("Checked() = %q, %q; want [chat], [chat room]", subscribe, publish)
	}
	if options := namespaces.Lookup("room:1"); !options.PublishCheck || options.SubscribeCheck {
		t.Errorf("Lookup(room:1) = %+v, want the publish check only", options)
	}
	plain, err := NewNamespaces([]NamespaceOptions{{Name: "news"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if subscribe, publish := plain.Checked(); subscribe != nil || publish != nil {
		t.Errorf("Checked() without checks = %q, %q; want nil, nil", subscribe, publish)
	}
}
