package channels

import (
	"fmt"
	"testing"
)

// BenchmarkSubscribeUnsubscribe is one subscribe and one unsubscribe of a connection
// that holds 10 other subscriptions, to a channel with 100 other subscribers.
func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	index, err := NewIndex[*testSubscriber](Config{})
	if err != nil {
		b.Fatal(err)
	}
	for position := range 100 {
		if err := index.Subscribe(&testSubscriber{fmt.Sprint("user", position)}, "busy", 0); err != nil {
			b.Fatal(err)
		}
	}
	subscriber := &testSubscriber{"me"}
	for position := range 10 {
		if err := index.Subscribe(subscriber, fmt.Sprint("other:", position), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := index.Subscribe(subscriber, "busy", 0); err != nil {
			b.Fatal(err)
		}
		if err := index.Unsubscribe(subscriber, "busy"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnsubscribeAll is a disconnect of a connection in 10 channels (and the 10
// subscribes before it, which the iteration includes).
func BenchmarkUnsubscribeAll(b *testing.B) {
	index, err := NewIndex[*testSubscriber](Config{})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 10)
	for position := range names {
		names[position] = fmt.Sprint("room:", position)
		if err := index.Subscribe(&testSubscriber{"resident"}, names[position], 0); err != nil {
			b.Fatal(err)
		}
	}
	subscriber := &testSubscriber{"visitor"}
	left := make([]string, 0, 10)
	b.ReportAllocs()
	for b.Loop() {
		for _, name := range names {
			if err := index.Subscribe(subscriber, name, 0); err != nil {
				b.Fatal(err)
			}
		}
		left = index.UnsubscribeAll(subscriber, left[:0])
	}
}

// BenchmarkSubscribersSnapshot15000 is the snapshot a publication to a channel with
// 15,000 subscribers takes, into a reused buffer: one copy under a read lock.
func BenchmarkSubscribersSnapshot15000(b *testing.B) {
	index, err := NewIndex[*testSubscriber](Config{})
	if err != nil {
		b.Fatal(err)
	}
	for position := range 15000 {
		if err := index.Subscribe(&testSubscriber{fmt.Sprint("user", position)}, "scores:final", 0); err != nil {
			b.Fatal(err)
		}
	}
	buffer := make([]*testSubscriber, 0, 15000)
	b.ReportAllocs()
	for b.Loop() {
		buffer = index.Subscribers("scores:final", buffer[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/15000, "ns/subscriber")
}

// BenchmarkTopChannels lists the top 100 channels of an index of 1,000 channels and
// of one of 100,000 (1 to 20 subscribers each, so many share a count; 10.5
// subscriptions per subscriber), without a prefix and with a namespace prefix that 1
// channel in 10 matches: the cost does not grow with the channels.
func BenchmarkTopChannels(b *testing.B) {
	for _, channels := range []int{1000, 100000} {
		index, err := NewIndex[*testSubscriber](Config{})
		if err != nil {
			b.Fatal(err)
		}
		subscribers := make([]*testSubscriber, channels)
		for position := range subscribers {
			subscribers[position] = &testSubscriber{fmt.Sprint("user", position)}
		}
		next := 0
		for channel := range channels {
			namespace := "feed"
			if channel%10 == 0 {
				namespace = "chat"
			}
			name := fmt.Sprint(namespace, ":", channel)
			for range 1 + channel%20 {
				if err := index.Subscribe(subscribers[next%len(subscribers)], name, 0); err != nil {
					b.Fatal(err)
				}
				next++
			}
		}
		for _, prefix := range []string{"", "chat:"} {
			b.Run(fmt.Sprintf("channels=%d/prefix=%q", channels, prefix), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if top, _ := index.TopChannels(prefix, 100); len(top) != 100 {
						b.Fatalf("%d channels listed", len(top))
					}
				}
			})
		}
	}
}
