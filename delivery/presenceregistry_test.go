package delivery

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// noChange is a registry change callback for tests that do not look at changes.
func noChange(int) {}

// walk reads every page of channel with limit and returns the users listed, with
// how many times each, calling between after each page.
func walk(t *testing.T, registry *presenceRegistry, channel string, limit int, between func(page int)) map[string]int {
	t.Helper()
	listed := map[string]int{}
	cursor := ""
	for page := 0; ; page++ {
		got, err := registry.page(channel, limit, cursor)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if len(got.Users) > limit {
			t.Fatalf("page %d has %d users, limit %d", page, len(got.Users), limit)
		}
		for user := range got.Users {
			listed[user]++
		}
		if got.Cursor == "" {
			return listed
		}
		cursor = got.Cursor
		between(page)
	}
}

// TestPresenceCountsConnectionsPerUser: a user's connections add up, the totals
// follow, and the changes report the user's count after each.
func TestPresenceCountsConnectionsPerUser(t *testing.T) {
	registry := newPresenceRegistry()
	var reported []int
	report := func(connections int) { reported = append(reported, connections) }
	registry.add("c", "alice", report)
	registry.add("c", "alice", report)
	registry.add("c", "bob", report)
	if users, connections := registry.stats("c"); users != 2 || connections != 3 {
		t.Fatalf("stats %d users %d connections, want 2 and 3", users, connections)
	}
	registry.remove("c", "alice", report)
	registry.remove("c", "carol", report)
	registry.remove("c", "alice", report)
	registry.remove("c", "bob", report)
	if fmt.Sprint(reported) != "[1 2 1 1 0 0]" {
		t.Fatalf("reported %v, want [1 2 1 1 0 0]", reported)
	}
	if users, connections := registry.stats("c"); users != 0 || connections != 0 {
		t.Fatalf("stats %d users %d connections after everyone left", users, connections)
	}
	if len(registry.shardOf("c").channels) != 0 {
		t.Fatal("an empty channel stays in the registry")
	}
	page, err := registry.page("c", 10, "")
	if err != nil || len(page.Users) != 0 || page.Users == nil || page.Cursor != "" {
		t.Fatalf("empty channel's page %+v, %v", page, err)
	}
	for _, cursor := range []string{"-", "0", "zzzzzzzzzzzzzzzzzzzz"} {
		if _, err := registry.page("c", 10, cursor); !errors.Is(err, errInvalidCursor) {
			t.Errorf("cursor %q: %v, want errInvalidCursor", cursor, err)
		}
	}
}

// TestPresencePagesListEveryStayingUserOnce: while users join and leave between
// pages (enough to compact the channel's order several times), a walk lists every
// user present throughout exactly once, and no user twice.
func TestPresencePagesListEveryStayingUserOnce(t *testing.T) {
	registry := newPresenceRegistry()
	const staying, limit = 3000, 97
	for user := range staying {
		registry.add("c", fmt.Sprint("stay-", user), noChange)
		registry.add("c", fmt.Sprint("churn-", user), noChange)
	}
	next := 0
	listed := walk(t, registry, "c", limit, func(page int) {
		// Fewer newcomers than a page, so that the walk ends.
		for range min(60, staying-next) {
			registry.remove("c", fmt.Sprint("churn-", next), noChange)
			registry.add("c", fmt.Sprint("new-", next), noChange)
			next++
		}
	})
	for user := range staying {
		if times := listed[fmt.Sprint("stay-", user)]; times != 1 {
			t.Fatalf("stay-%d listed %d times, want once", user, times)
		}
	}
	for user, times := range listed {
		if times != 1 {
			t.Fatalf("%s listed %d times", user, times)
		}
	}
	if users, _ := registry.stats("c"); users != 2*staying {
		t.Fatalf("%d users, want %d", users, 2*staying)
	}
	if after := walk(t, registry, "c", 1000, func(int) {}); len(after) != 2*staying {
		t.Fatalf("a quiet walk lists %d users, want %d", len(after), 2*staying)
	}
}

// TestPresenceMemoryPerUser measures the registry's heap for 100,000 users present
// in 10 channels of 10,000 (the user ids exist before, as the sessions' own
// strings): it logs the bytes per present user (go test -v -run Memory) and holds
// them under 128.
func TestPresenceMemoryPerUser(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 10 MB")
	}
	const users, channelCount = 100000, 10
	ids := make([]string, users)
	for index := range ids {
		ids[index] = fmt.Sprint("user-", index)
	}
	names := make([]string, channelCount)
	for index := range names {
		names[index] = fmt.Sprint("room:", index)
	}
	before := testsupport.LiveHeap()
	registry := newPresenceRegistry()
	for index, user := range ids {
		registry.add(names[index%channelCount], user, noChange)
	}
	used := testsupport.LiveHeap() - before
	runtime.KeepAlive(registry)
	runtime.KeepAlive(ids)
	perUser := float64(used) / users
	t.Logf("%.1f B per present user (%d users in %d channels)", perUser, users, channelCount)
	if perUser >= 128 {
		t.Errorf("a present user costs %.1f bytes, over 128", perUser)
	}
}

// BenchmarkPresencePage reads one page of 100 users, the stats, and a whole walk
// (pages of 1000) of a channel of 15,000 present users.
func BenchmarkPresencePage(b *testing.B) {
	registry := newPresenceRegistry()
	for user := range 15000 {
		registry.add("room:big", fmt.Sprint("user-", user), noChange)
	}
	middle, _ := registry.page("room:big", 7500, "")
	b.Run("page of 100 from the middle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if page, _ := registry.page("room:big", 100, middle.Cursor); len(page.Users) != 100 {
				b.Fatal(len(page.Users))
			}
		}
	})
	b.Run("stats", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if users, _ := registry.stats("room:big"); users != 15000 {
				b.Fatal(users)
			}
		}
	})
	b.Run("walk of 15 pages of 1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cursor, listed := "", 0
			for {
				page, _ := registry.page("room:big", 1000, cursor)
				listed += len(page.Users)
				if cursor = page.Cursor; cursor == "" {
					break
				}
			}
			if listed != 15000 {
				b.Fatal(listed)
			}
		}
	})
}
