package workerprotocol

import "testing"

func TestSubscriptionPlanSpreadsConnectionsEvenly(t *testing.T) {
	plan := Plan{Prefix: "rate-", Channels: 1000, PerConnection: 10}
	subscribers := map[string]int{}
	for connection := range 15000 {
		own := map[string]bool{}
		for k := range plan.PerConnection {
			channel := plan.Channel(connection, k)
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
	if plan.Channel(0, 0) != "rate-0" || plan.Channel(100, 3) != "rate-400" || plan.Channel(1, 9) != "rate-901" {
		t.Errorf("channels %s %s %s", plan.Channel(0, 0), plan.Channel(100, 3), plan.Channel(1, 9))
	}
}

func TestSubscribeReportMergeAddsAnswers(t *testing.T) {
	merged := SubscribeReport{Requested: 10, Confirmed: 9, Refused: 1, Seconds: 2}.
		Merge(SubscribeReport{Requested: 5, Confirmed: 5, Seconds: 3})
	if merged != (SubscribeReport{Requested: 15, Confirmed: 14, Refused: 1, Seconds: 3}) {
		t.Fatalf("merged %+v", merged)
	}
}

func TestSnapshotMergeAddsDeliveriesAndKeepsTheSlowest(t *testing.T) {
	merged := Snapshot{Open: 2, Received: []int64{2, 1}, Slowest: []int64{10, 50}, LastReceipt: 7}.
		Merge(Snapshot{Open: 3, Subscribed: 4, Received: []int64{3, 3, 1}, Slowest: []int64{30, 20, 5}, LastReceipt: 9, WorkerCPU: 1.5})
	if merged.Open != 5 || merged.Delivered() != 10 || merged.LastReceipt != 9 || merged.WorkerCPU != 1.5 || merged.Subscribed != 4 {
		t.Fatalf("merged %+v", merged)
	}
	if merged.Slowest[0] != 30 || merged.Slowest[1] != 50 || merged.Slowest[2] != 5 || merged.Received[2] != 1 {
		t.Fatalf("per-sequence figures %v %v", merged.Received, merged.Slowest)
	}
}
