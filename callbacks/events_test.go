package callbacks

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// newEvents returns Events posting to backend with config, closed at the end.
func newEvents(t *testing.T, backend *testsupport.EventsBackend, config EventsConfig) *Events {
	t.Helper()
	client := newClient(t, Config{})
	config.Endpoint = newEndpoint(t, client, "events", backend.Server)
	events, err := NewEvents(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { events.Close(context.Background()) })
	return events
}

func TestEventsAreBatchedAndCarryTheirFields(t *testing.T) {
	backend := testsupport.StartEventsBackend(t, 0, nil)
	events := newEvents(t, backend, EventsConfig{BatchSize: 100, BatchDelay: 50 * time.Millisecond})
	for index := range 1000 {
		events.Add(Event{Type: EventConnect, ConnectionID: fmt.Sprint("c", index), User: "ada"})
	}
	events.Add(Event{Type: EventUnsubscribe, ConnectionID: "c1", User: "ada", Channel: "news", Reason: "client"})
	testsupport.WaitFor(t, 10*time.Second, "1,001 events at the backend", func() bool { return len(backend.Events()) == 1001 })
	if requests := backend.Requests.Load(); requests > 20 {
		t.Errorf("1,001 events took %d requests; batches of 100 need about 11", requests)
	}
	taken := backend.Events()
	last := taken[1000]
	if last["type"] != "unsubscribe" || last["connection_id"] != "c1" || last["user"] != "ada" || last["channel"] != "news" ||
		last["reason"] != "client" || last["id"] == "" {
		t.Errorf("the last event arrived as %v", last)
	}
	if at, _ := last["time"].(float64); time.Since(time.UnixMilli(int64(at))) > time.Minute {
		t.Errorf("time %v is not the Unix time in milliseconds", last["time"])
	}
	if _, present := taken[0]["channel"]; present {
		t.Errorf("a connect carries a channel: %v", taken[0])
	}
}

func TestFailedBatchesAreRetriedUntilEveryEventArrivesWithUniqueIDs(t *testing.T) {
	backend := testsupport.StartEventsBackend(t, 3, nil)
	events := newEvents(t, backend, EventsConfig{BatchSize: 50, BatchDelay: 10 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	for index := range 200 {
		events.Add(Event{Type: EventDisconnect, ConnectionID: fmt.Sprint("c", index), Reason: "client_close"})
	}
	testsupport.WaitFor(t, 10*time.Second, "200 events at the backend", func() bool { return len(backend.Events()) >= 200 })
	ids := map[string]bool{}
	connections := map[string]bool{}
	for _, event := range backend.Events() {
		id := event["id"].(string)
		if ids[id] {
			t.Errorf("id %s arrived twice", id)
		}
		ids[id] = true
		connections[event["connection_id"].(string)] = true
	}
	if len(connections) != 200 || backend.Requests.Load() < 7 {
		t.Errorf("%d distinct connections after %d requests; want 200 after at least 3 failed and 4 good ones",
			len(connections), backend.Requests.Load())
	}
}

func TestCloseFlushesPendingEventsAndCountsWhatItGivesUp(t *testing.T) {
	backend := testsupport.StartEventsBackend(t, 0, nil)
	events := newEvents(t, backend, EventsConfig{BatchSize: 1000, BatchDelay: time.Hour})
	for range 10 {
		events.Add(Event{Type: EventConnect, ConnectionID: "c"})
	}
	if lost := events.Close(context.Background()); lost != 0 || len(backend.Events()) != 10 {
		t.Fatalf("Close lost %d and the backend has %d of 10 events", lost, len(backend.Events()))
	}
	if events.Add(Event{Type: EventConnect}) {
		t.Error("Add after Close took an event")
	}

	down := testsupport.StartEventsBackend(t, 1<<40, nil)
	stuck := newEvents(t, down, EventsConfig{BatchSize: 5, RetryMin: time.Millisecond, RetryMax: time.Millisecond})
	for range 12 {
		stuck.Add(Event{Type: EventConnect})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if lost := stuck.Close(ctx); lost != 12 {
		t.Errorf("Close against a backend that is down gave up %d events, want 12", lost)
	}
}

func TestEventsPastTheQueueAreDroppedAndCounted(t *testing.T) {
	var arrived atomic.Int64
	server := blockingServer(t, &arrived)
	client := newClient(t, Config{Timeout: time.Minute})
	events, err := NewEvents(EventsConfig{Endpoint: newEndpoint(t, client, "events", server), BatchSize: 2,
		BatchDelay: time.Millisecond, QueueSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	events.Add(Event{Type: EventConnect})
	events.Add(Event{Type: EventConnect})
	testsupport.WaitFor(t, 5*time.Second, "the first batch to be in flight", func() bool { return arrived.Load() == 1 })
	accepted := 0
	for range 5 {
		if events.Add(Event{Type: EventConnect}) {
			accepted++
		}
	}
	if accepted != 3 || events.Pending() != 5 {
		t.Errorf("accepted %d of 5 past a batch in flight, %d pending; want 3 and 5", accepted, events.Pending())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if lost := events.Close(ctx); lost != 5 {
		t.Errorf("Close gave up %d, want 5", lost)
	}
}

// TestABatchOverTheRequestLimitIsPostedInParts: events that do not fit in one
// request body of the client's limit are split, and all arrive.
func TestABatchOverTheRequestLimitIsPostedInParts(t *testing.T) {
	backend := testsupport.StartEventsBackend(t, 0, nil)
	client := newClient(t, Config{MaxRequestSize: 2000})
	events, err := NewEvents(EventsConfig{Endpoint: newEndpoint(t, client, "events", backend.Server), BatchSize: 100,
		BatchDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for index := range 100 {
		events.Add(Event{Type: EventConnect, ConnectionID: fmt.Sprint("connection-", index)})
	}
	if lost := events.Close(context.Background()); lost != 0 || len(backend.Events()) != 100 || backend.Requests.Load() < 8 {
		t.Fatalf("lost %d, the backend has %d of 100 events in %d requests; want all, in at least 8 requests of 2,000 bytes",
			lost, len(backend.Events()), backend.Requests.Load())
	}
}

// BenchmarkEventBatching posts 1,000 events per iteration, added at once (burst) or
// with a 100 µs sleep between two (spread: the sleep takes about 1 ms here, so
// about 1,000 events per second, reported as events/s), and reports requests per
// 1,000 events with the default batching.
func BenchmarkEventBatching(b *testing.B) {
	for name, spacing := range map[string]time.Duration{"burst": 0, "spread": 100 * time.Microsecond} {
		b.Run(name, func(b *testing.B) {
			backend := testsupport.StartEventsBackend(b, 0, nil)
			client, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			endpoint, _ := client.Endpoint("events", backend.Server.URL)
			events, err := NewEvents(EventsConfig{Endpoint: endpoint})
			if err != nil {
				b.Fatal(err)
			}
			defer events.Close(context.Background())
			started := time.Now()
			for iteration := range b.N {
				for index := range 1000 {
					events.Add(Event{Type: EventConnect, ConnectionID: fmt.Sprint(iteration, "-", index), User: "u"})
					if spacing > 0 {
						time.Sleep(spacing)
					}
				}
				testsupport.WaitFor(b, time.Minute, "the iteration's events", func() bool {
					return len(backend.Events()) == (iteration+1)*1000
				})
			}
			b.ReportMetric(float64(backend.Requests.Load())/float64(b.N), "requests/1000-events")
			b.ReportMetric(float64(b.N*1000)/time.Since(started).Seconds(), "events/s")
		})
	}
}
