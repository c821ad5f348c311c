package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
)

// presenceLog records the presence callbacks of one subscription.
type presenceLog struct {
	mutex  sync.Mutex
	events []client.PresenceEvent
	diffs  []client.PresenceDiff
}

func (l *presenceLog) options() client.SubscribeOptions {
	record := func(event client.PresenceEvent) {
		l.mutex.Lock()
		l.events = append(l.events, event)
		l.mutex.Unlock()
	}
	return client.SubscribeOptions{OnJoin: record, OnLeave: record, OnPresenceDiff: func(diff client.PresenceDiff) {
		l.mutex.Lock()
		l.diffs = append(l.diffs, diff)
		l.mutex.Unlock()
	}}
}

func (l *presenceLog) snapshot() []client.PresenceEvent {
	l.mutex.Lock()
	defer l.mutex.Unlock()
	return append([]client.PresenceEvent(nil), l.events...)
}

// TestGatewayPresenceQueriesAndEvents: a subscription reads its channel's presence
// page by page and its counts, and receives joins and leaves per user; a query of a
// channel without presence is a *ChannelError.
func TestGatewayPresenceQueriesAndEvents(t *testing.T) {
	node := testnode.Start(t, gateway.Config{InsecureUserID: true, Namespaces: []channels.NamespaceOptions{
		{Name: "room", Presence: true, JoinLeave: true}}})
	address := node.Addr().String()
	ann := startClient(t, fastOptions(testsupport.WebSocketURL(address, testsupport.UserQuery("ann"))))
	var log presenceLog
	subscribed := make(chan struct{}, 1)
	options := log.options()
	options.OnSubscribed = func(client.Subscribed) { subscribed <- struct{}{} }
	room, err := ann.Subscribe("room:1", func(client.Publication) {}, options)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	<-subscribed
	bob := startClient(t, fastOptions(testsupport.WebSocketURL(address, testsupport.UserQuery("bob"))))
	if _, err := bob.Subscribe("room:1", func(client.Publication) {}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	waitFor(t, 5*time.Second, "ann's and bob's joins", func() bool { return len(log.snapshot()) == 2 })
	if got := log.snapshot(); got[0] != (client.PresenceEvent{Channel: "room:1", User: "ann", Joined: true}) ||
		got[1] != (client.PresenceEvent{Channel: "room:1", User: "bob", Joined: true}) {
		t.Fatalf("events %+v", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := room.PresenceStats(ctx)
	if err != nil || stats != (client.PresenceStats{Channel: "room:1", Users: 2, Connections: 2}) {
		t.Fatalf("PresenceStats: %+v, %v", stats, err)
	}
	first, err := room.Presence(ctx, client.PresenceQuery{Limit: 1})
	if err != nil || len(first.Users) != 1 || first.Cursor == "" || first.TotalUsers != 2 || first.TotalConnections != 2 {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	second, err := room.Presence(ctx, client.PresenceQuery{Limit: 1, Cursor: first.Cursor})
	if err != nil || len(second.Users) != 1 || second.Cursor != "" {
		t.Fatalf("second page: %+v, %v", second, err)
	}
	for user := range first.Users {
		if _, twice := second.Users[user]; twice {
			t.Fatalf("%s on both pages", user)
		}
	}
	_, err = room.Presence(ctx, client.PresenceQuery{Cursor: "!"})
	var refusal *client.ChannelError
	if !errors.As(err, &refusal) || refusal.Code != client.ChannelInvalidCursor || refusal.Channel != "room:1" {
		t.Fatalf("bad cursor: %v", err)
	}

	_ = bob.Close()
	waitFor(t, 5*time.Second, "bob's leave", func() bool { return len(log.snapshot()) == 3 })
	if got := log.snapshot()[2]; got != (client.PresenceEvent{Channel: "room:1", User: "bob"}) {
		t.Fatalf("third event %+v, want bob's leave", got)
	}

	plain, err := ann.Subscribe("plain", func(client.Publication) {}, client.SubscribeOptions{
		OnSubscribed: func(client.Subscribed) { subscribed <- struct{}{} }})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	<-subscribed
	if _, err := plain.PresenceStats(ctx); !errors.As(err, &refusal) || refusal.Code != client.ChannelPresenceNotEnabled {
		t.Fatalf("presence of a channel without it: %v", err)
	}
}
