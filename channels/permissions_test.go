package channels

import "testing"

func mustPatterns(t *testing.T, patterns ...string) Patterns {
	t.Helper()
	compiled, err := NewPatterns(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return compiled
}

func TestSubscribePermissionMatrix(t *testing.T) {
	namespaces, err := NewNamespaces([]NamespaceOptions{
		{Name: "open", Subscribe: SubscribeAnyone},
		{Name: "members", Subscribe: SubscribeAuthenticated},
		{Name: "private", Subscribe: SubscribeToken},
		{Name: "inbox", Personal: true},
		{Name: "dialogs", Personal: true, Subscribe: SubscribeToken},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	anonymous := Connection{}
	alice := Connection{UserID: "alice"}
	bob := Connection{UserID: "bob", Grants: &Grants{Subscribe: mustPatterns(t, "private:shared", "private:team:*", "inbox:alice")}}
	for _, test := range []struct {
		what         string
		connection   Connection
		channel      string
		tokenChannel string
		allowed      bool
	}{
		{"anyone: anonymous", anonymous, "open:x", "", true},
		{"anyone: user", alice, "open:x", "", true},
		{"authenticated: anonymous", anonymous, "members:x", "", false},
		{"authenticated: user", alice, "members:x", "", true},
		{"token: user without grant", alice, "private:x", "", false},
		{"token: exact pattern", bob, "private:shared", "", true},
		{"token: prefix pattern", bob, "private:team:blue", "", true},
		{"token: pattern for another channel", bob, "private:sharedx", "", false},
		{"token: subscription token for the channel", alice, "private:x", "private:x", true},
		{"token: subscription token for another channel", alice, "private:x", "private:y", false},
		{"token: subscription token of an anonymous connection", anonymous, "private:x", "private:x", true},
		{"unnamed namespace with authentication: token only", alice, "elsewhere:x", "", false},
		{"personal: own channel", alice, "inbox:alice", "", true},
		{"personal: own channel with a topic", alice, "inbox:mentions#alice", "", true},
		{"personal: another user's channel", alice, "inbox:bob", "", false},
		{"personal: another user's channel with a topic", alice, "inbox:mentions#bob", "", false},
		{"personal: user id only as a prefix", alice, "inbox:alice2", "", false},
		{"personal: user id only before the '#'", alice, "inbox:alice#bob", "", false},
		{"personal: anonymous", anonymous, "inbox:", "", false},
		{"personal: empty user list", alice, "inbox:topic#", "", false},
		{"personal: dialog lists the user first", alice, "dialogs:#alice,bob", "", true},
		{"personal: dialog lists the user second", bob, "dialogs:#alice,bob", "", true},
		{"personal: dialog without the user", Connection{UserID: "carol"}, "dialogs:#alice,bob", "", false},
		{"personal: another user's channel by grant", bob, "inbox:alice", "", true},
		{"personal: another user's channel by subscription token", bob, "inbox:carol", "inbox:carol", true},
	} {
		options := namespaces.Lookup(test.channel)
		err := SubscribePermission(options, test.connection, test.channel, test.tokenChannel)
		if test.allowed && err != nil {
			t.Errorf("%s: SubscribePermission(%q) = %v, want allowed", test.what, test.channel, err)
		}
		if !test.allowed && err != ErrPermissionDenied {
			t.Errorf("%s: SubscribePermission(%q) = %v, want permission_denied", test.what, test.channel, err)
		}
	}
}

func TestSubscribePermissionWithoutAuthenticationAllowsEveryChannel(t *testing.T) {
	namespaces, err := NewNamespaces(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, channel := range []string{"news", "chat:lobby", "anything:at#all"} {
		if err := SubscribePermission(namespaces.Lookup(channel), Connection{}, channel, ""); err != nil {
			t.Errorf("anonymous mode, SubscribePermission(%q) = %v, want allowed", channel, err)
		}
	}
}

func TestPublishPermissionMatrix(t *testing.T) {
	namespaces, err := NewNamespaces([]NamespaceOptions{
		{Name: "chat", Subscribe: SubscribeAnyone, Publish: PublishSubscribers},
		{Name: "board", Subscribe: SubscribeAnyone, Publish: PublishAuthenticated},
		{Name: "feed", Subscribe: SubscribeAnyone, Publish: PublishOff},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	anonymous := Connection{}
	alice := Connection{UserID: "alice"}
	publisher := Connection{UserID: "service", Grants: &Grants{Publish: mustPatterns(t, "feed:*")}}
	for _, test := range []struct {
		what       string
		connection Connection
		channel    string
		subscribed bool
		want       error
	}{
		{"subscribers: subscribed", anonymous, "chat:x", true, nil},
		{"subscribers: not subscribed", alice, "chat:x", false, ErrPermissionDenied},
		{"authenticated: user", alice, "board:x", false, nil},
		{"authenticated: anonymous", anonymous, "board:x", true, ErrPermissionDenied},
		{"off: user", alice, "feed:x", true, ErrPublishNotAllowed},
		{"off: grant", publisher, "feed:x", false, nil},
		{"grant elsewhere: subscribers rule still applies", publisher, "chat:x", false, ErrPermissionDenied},
		{"unnamed namespace: off", alice, "other:x", true, ErrPublishNotAllowed},
	} {
		got := PublishPermission(namespaces.Lookup(test.channel), test.connection, test.channel, test.subscribed)
		if got != test.want {
			t.Errorf("%s: PublishPermission(%q) = %v, want %v", test.what, test.channel, got, test.want)
		}
	}
}

func TestBroadcastPermission(t *testing.T) {
	granted := Connection{UserID: "alice", Grants: &Grants{Broadcast: true}}
	plain := Connection{UserID: "bob", Grants: &Grants{}}
	for _, test := range []struct {
		what                     string
		authentication, everyone bool
		connection               Connection
		want                     error
	}{
		{"anonymous mode keeps the seed's broadcast", false, false, Connection{}, nil},
		{"authentication, no grant", true, false, plain, ErrPermissionDenied},
		{"authentication, no grants at all", true, false, Connection{UserID: "carol"}, ErrPermissionDenied},
		{"authentication, granted", true, false, granted, nil},
		{"authentication, operator allows everyone", true, true, plain, nil},
	} {
		if got := BroadcastPermission(test.authentication, test.everyone, test.connection); got != test.want {
			t.Errorf("%s: BroadcastPermission = %v, want %v", test.what, got, test.want)
		}
	}
}

func TestPermissionDecisionsDoNotAllocate(t *testing.T) {
	namespaces, err := NewNamespaces([]NamespaceOptions{{Name: "dialogs", Personal: true}}, true)
	if err != nil {
		t.Fatal(err)
	}
	connection := Connection{UserID: "bob", Grants: &Grants{Subscribe: mustPatterns(t, "a", "b:*"), Publish: mustPatterns(t, "c:*")}}
	allocations := testing.AllocsPerRun(100, func() {
		options := namespaces.Lookup("dialogs:#alice,bob")
		_ = SubscribePermission(options, connection, "dialogs:#alice,bob", "")
		_ = PublishPermission(options, connection, "dialogs:#alice,bob", true)
	})
	if allocations != 0 {
		t.Fatalf("a lookup and two decisions allocate %v times, want 0", allocations)
	}
}
