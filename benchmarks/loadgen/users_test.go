package main

import (
	"net/url"
	"testing"
)

func TestUserIDsGroupConsecutiveDials(t *testing.T) {
	target, err := url.Parse("ws://127.0.0.1:1/api/v1/ws?token=x")
	if err != nil {
		t.Fatal(err)
	}
	if got := newUserIDs(target, 0).next(target); got != target {
		t.Fatalf("anonymous: got %v, want the target itself", got)
	}
	users := newUserIDs(target, 5)
	var ids []string
	for range 11 {
		query := users.next(target).Query()
		if query.Get("token") != "x" {
			t.Fatalf("the target's query was lost: %v", query)
		}
		ids = append(ids, query.Get("user_id"))
	}
	for index, id := range ids {
		if want := ids[index/5*5]; id != want || id == "" {
			t.Fatalf("dial %d: user %q, want %q (five consecutive dials per user)", index, id, want)
		}
	}
	if ids[0] == ids[5] || ids[5] == ids[10] {
		t.Fatalf("groups share a user: %v", ids)
	}
}
