package main

import "testing"

func TestSubscriptionPlanSpreadsConnectionsEvenly(t *testing.T) {
	plan := subscriptionPlan{Prefix: "rate-", Channels: 1000, PerConnection: 10}
	subscribers := map[string]int{}
	for connection := range 15000 {
		own := map[string]bool{}
		for k := range plan.PerConnection {
			channel := plan.channel(connection, k)
			if own[channel] {
				t.Fatalf("connection %d is given %s twice", connection, channel)
			}
			own[channel] = true
			subscribers[channel]++
		}
	}
	if len(subscribers) != 1000 {
		t.Fatalf("%d channels used, want 1000", len(subscribers))
	}
	for channel, count := range subscribers {
		if count != 150 {
			t.Fatalf("%s has %d subscribers, want 150", channel, count)
		}
	}
	if plan.channel(0, 0) != "rate-0" || plan.channel(100, 3) != "rate-400" || plan.channel(1, 9) != "rate-901" {
		t.Errorf("channels %s %s %s", plan.channel(0, 0), plan.channel(100, 3), plan.channel(1, 9))
	}
}

func TestSubscribeReportMergeAddsAnswers(t *testing.T) {
	merged := SubscribeReport{Requested: 10, Confirmed: 9, Refused: 1, Seconds: 2}.
		merge(SubscribeReport{Requested: 5, Confirmed: 5, Seconds: 3})
	if merged != (SubscribeReport{Requested: 15, Confirmed: 14, Refused: 1, Seconds: 3}) {
		t.Fatalf("merged %+v", merged)
	}
}
