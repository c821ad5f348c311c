package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
)

// drainTimeout bounds the wait for the last deliveries of a phase.
const drainTimeout = 10 * time.Second

// scenario is where broadcasts are triggered and where they are received.
type scenario struct {
	name      string
	trigger   *gateway.Gateway
	receivers *gateway.Gateway
}

// result is one scenario's figures: latency percentiles over every delivery, and
// over the first delivery of each broadcast (the hop itself, without the spread of a
// fan-out to many connections), then sustained rates.
type result struct {
	p50, p99, max       time.Duration
	firstP50, firstP99  time.Duration
	deliveredPerSecond  float64
	broadcastsPerSecond float64
}

// delivery is one recorded message: its sequence number and latency.
type delivery struct {
	sequence int
	latency  time.Duration
}

// fleet is the receiving connections. Each message carries its send time ("t", Unix
// nanoseconds) and sequence number ("s"); while recording, each receiver keeps the
// latency of every message.
type fleet struct {
	receivers []*receiver
	delivered atomic.Int64
	// lastDelivery is the Unix nanoseconds of the latest delivery.
	lastDelivery atomic.Int64
	recording    atomic.Bool
	done         sync.WaitGroup
}

// receiver is one connection and what it recorded; mutex guards deliveries.
type receiver struct {
	conn       *websocket.Conn
	mutex      sync.Mutex
	deliveries []delivery
}

func connect(target *gateway.Gateway, count int) (*fleet, error) {
	f := &fleet{}
	address := "ws://" + target.Addr().String() + "/api/v1/ws"
	for range count {
		conn, response, err := websocket.DefaultDialer.Dial(address, nil)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("dial: %w", err)
		}
		_ = response.Body.Close()
		r := &receiver{conn: conn}
		f.receivers = append(f.receivers, r)
		f.done.Add(1)
		go f.read(r)
	}
	if err := waitUntil(func() bool { return target.Hub.ConnectionCount() >= count }); err != nil {
		f.close()
		return nil, fmt.Errorf("connections not registered: %w", err)
	}
	return f, nil
}

// read counts every message of r until its connection closes.
func (f *fleet) read(r *receiver) {
	defer f.done.Done()
	for {
		_, data, err := r.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if f.recording.Load() {
			sent, sequence := field(data, `"t":`), field(data, `"s":`)
			if sent > 0 && sequence >= 0 {
				r.mutex.Lock()
				r.deliveries = append(r.deliveries, delivery{int(sequence), time.Duration(now - sent)})
				r.mutex.Unlock()
			}
		}
		f.lastDelivery.Store(now)
		f.delivered.Add(1)
	}
}

func (f *fleet) close() {
	for _, r := range f.receivers {
		_ = r.conn.Close()
	}
	f.done.Wait()
}

// field returns the whole number after marker in data, or -1.
func field(data []byte, marker string) int64 {
	start := bytes.Index(data, []byte(marker))
	if start < 0 {
		return -1
	}
	digits := data[start+len(marker):]
	end := bytes.IndexAny(digits, ",}")
	value, err := strconv.ParseInt(string(digits[:max(end, 0)]), 10, 64)
	if err != nil {
		return -1
	}
	return value
}

// latencies returns every recorded latency and each broadcast's fastest, sorted.
func (f *fleet) latencies() (all, first []time.Duration) {
	fastest := map[int]time.Duration{}
	for _, r := range f.receivers {
		r.mutex.Lock()
		for _, received := range r.deliveries {
			all = append(all, received.latency)
			if current, found := fastest[received.sequence]; !found || received.latency < current {
				fastest[received.sequence] = received.latency
			}
		}
		r.mutex.Unlock()
	}
	for _, latency := range fastest {
		first = append(first, latency)
	}
	slices.Sort(all)
	slices.Sort(first)
	return all, first
}

// percentile returns the fraction's percentile of sorted, rounded to microseconds.
func percentile(sorted []time.Duration, fraction float64) time.Duration {
	return sorted[min(int(fraction*float64(len(sorted))), len(sorted)-1)].Round(time.Microsecond)
}

// post sends one broadcast stamped with the current time through the API.
func post(client *http.Client, url string, sequence int) error {
	body := fmt.Sprintf(`{"message":{"t":%d,"s":%d}}`, time.Now().UnixNano(), sequence)
	response, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, response.Body)
	_ = response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("broadcast answered %d", response.StatusCode)
	}
	return nil
}

func (s scenario) measure(parsed options) (result, error) {
	f, err := connect(s.receivers, parsed.connections)
	if err != nil {
		return result{}, err
	}
	defer f.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parsed.workers}}
	defer client.CloseIdleConnections()
	url := "http://" + s.trigger.Addr().String() + "/api/v1/broadcast"
	count := int64(parsed.connections)

	f.recording.Store(true)
	for sequence := range parsed.messages {
		expected := f.delivered.Load() + count
		if err := post(client, url, sequence); err != nil {
			return result{}, err
		}
		if err := waitUntil(func() bool { return f.delivered.Load() >= expected }); err != nil {
			return result{}, fmt.Errorf("broadcast %d: %w", sequence, err)
		}
	}
	f.recording.Store(false)
	latencies, first := f.latencies()
	if len(latencies) == 0 {
		return result{}, fmt.Errorf("no latency recorded")
	}

	before := f.delivered.Load()
	var posted atomic.Int64
	var failed atomic.Value
	started := time.Now()
	deadline := started.Add(parsed.duration)
	var workers sync.WaitGroup
	for range parsed.workers {
		workers.Go(func() {
			for time.Now().Before(deadline) {
				if err := post(client, url, 0); err != nil {
					failed.Store(err)
					return
				}
				posted.Add(1)
			}
		})
	}
	workers.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return result{}, err
	}
	expected := before + posted.Load()*count
	if err := waitUntil(func() bool { return f.delivered.Load() >= expected }); err != nil {
		return result{}, fmt.Errorf("throughput phase: %d of %d deliveries: %w", f.delivered.Load()-before,
			expected-before, err)
	}
	elapsed := time.Duration(f.lastDelivery.Load() - started.UnixNano()).Seconds()
	return result{
		p50: percentile(latencies, 0.50), p99: percentile(latencies, 0.99), max: percentile(latencies, 1),
		firstP50: percentile(first, 0.50), firstP99: percentile(first, 0.99),
		deliveredPerSecond:  float64(expected-before) / elapsed,
		broadcastsPerSecond: float64(posted.Load()) / elapsed,
	}, nil
}

// waitUntil polls condition every millisecond for at most drainTimeout.
func waitUntil(condition func() bool) error {
	deadline := time.Now().Add(drainTimeout)
	for !condition() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %v", drainTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
