package main

import (
	"os/exec"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestGivenRedisReadsEveryAddressOfTheURL(t *testing.T) {
	for url, want := range map[string][]string{
		"redis://127.0.0.1:6379/0":                                     {"127.0.0.1:6379"},
		"redis://user:secret@10.0.0.1:6380":                            {"10.0.0.1:6380"},
		"redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002": {"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"},
	} {
		set, err := givenRedis(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if !slices.Equal(set.addresses, want) {
			t.Errorf("%s: addresses %v, want %v", url, set.addresses, want)
		}
	}
	if _, err := givenRedis("127.0.0.1:6379"); err == nil {
		t.Error("a URL without a scheme was accepted")
	}
}

func TestMedianOfOddAndEvenCounts(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median of 5, 1, 3 = %v, want 3", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4, 1, 3, 2 = %v, want 2.5", got)
	}
}

func TestMemorySlopeIsPerAddedConnectionOfEachNode(t *testing.T) {
	r := &report{Memory: []memoryStep{
		{Connections: 600, RSS: []int64{10_000_000, 20_000_000}, Heap: []int64{1_000_000, 1_000_000},
			Kernel: kernelMemory{Sockets: 1_000, SocketCaches: map[string]int64{"TCP": 2_000_000}}},
		{Connections: 1_600, RSS: []int64{11_000_000, 22_000_000}, Heap: []int64{1_500_000, 1_500_000},
			Kernel: kernelMemory{Sockets: 3_000, SocketCaches: map[string]int64{"TCP": 6_000_000}}},
	}}
	r.summarizeMemory()
	// 500 connections added per node.
	if got := r.MemorySlope.RSSPerConnection; !slices.Equal(got, []float64{2_000, 4_000}) {
		t.Errorf("RSS per connection %v, want [2000 4000]", got)
	}
	if got := r.MemorySlope.HeapPerConnectionMedian; got != 1_000 {
		t.Errorf("heap per connection %v, want 1000", got)
	}
	if got := r.MemorySlope.KernelPerSocket; got != 2_000 {
		t.Errorf("kernel per socket %v, want 2000", got)
	}
}

// TestRedisUsageCountsCommands runs a real redis-server and checks that a PUBLISH
// shows in the commands counted since a first reading, and the readings' own INFO
// calls do not.
func TestRedisUsageCountsCommands(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (make deps-redis)")
	}
	set, err := startSingleRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer set.stop()
	before, err := set.usage()
	if err != nil {
		t.Fatal(err)
	}
	if output, err := exec.Command("redis-cli", "-p", set.addresses[0][len("127.0.0.1:"):], "PUBLISH", "c", "m").CombinedOutput(); err != nil {
		t.Fatalf("redis-cli: %v: %s", err, output)
	}
	after, err := set.usage()
	if err != nil {
		t.Fatal(err)
	}
	delta := after.since(before, len(set.addresses))
	if delta.commands["publish"] != 1 || delta.commands["info"] != 0 {
		t.Errorf("commands since the first reading %v, want publish 1 and no info", delta.commands)
	}
}
