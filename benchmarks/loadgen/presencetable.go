package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// printPresence writes the presence scenario's rounds and their medians.
func printPresence(output io.Writer, presence *result.Presence) {
	fmt.Fprintf(output, "\npresence storm: %d watchers, %d joiners over %.1f s, observed %.1f s\n",
		presence.Watchers, presence.Joiners, presence.WindowS, presence.ObserveS)
	for _, storms := range [][]result.PresenceStorm{presence.StormOn, presence.StormOff} {
		var perWatcher, maxSecond, frames, server []float64
		for _, storm := range storms {
			fmt.Fprintf(output, "  %s: all subscribed in %.2f s; per watcher %.1f presence messages, at most %d in one second; %.0f frames sent; %s\n",
				storm.Channel, storm.SubscribedS, storm.PerWatcherMean, storm.PerWatcherMaxSecond, storm.FramesSent, cpu(storm.CPU))
			perWatcher = append(perWatcher, storm.PerWatcherMean)
			maxSecond = append(maxSecond, float64(storm.PerWatcherMaxSecond))
			frames = append(frames, storm.FramesSent)
			if storm.CPU.Server != nil {
				server = append(server, *storm.CPU.Server)
			}
		}
		fmt.Fprintf(output, "  median: per watcher %.1f, at most %.0f in one second, %.0f frames sent, server CPU %.3f s\n",
			middle(perWatcher), middle(maxSecond), middle(frames), middle(server))
	}
	var heapOn, heapOff, rssOn, rssOff []float64
	for _, memory := range presence.Memory {
		fmt.Fprintf(output, "  memory %s: %d subscribers, heap %.0f B and RSS %.0f B per subscriber\n",
			memory.Channel, memory.Subscribers, memory.HeapPerUser, memory.RSSPerUser)
		if memory.Presence {
			heapOn, rssOn = append(heapOn, memory.HeapPerUser), append(rssOn, memory.RSSPerUser)
		} else {
			heapOff, rssOff = append(heapOff, memory.HeapPerUser), append(rssOff, memory.RSSPerUser)
		}
	}
	fmt.Fprintf(output, "  memory median: presence on - off: heap %.0f B, RSS %.0f B per present user\n",
		middle(heapOn)-middle(heapOff), middle(rssOn)-middle(rssOff))
	byKind := map[string][]result.PresenceQuery{}
	var kinds []string
	for _, query := range presence.Queries {
		fmt.Fprintf(output, "  query %s of %d subscribers: %d (%d errors), answer %d B, round trip %s, server CPU %.1f us per query\n",
			query.Kind, query.Subscribers, query.Count, query.Errors, query.AnswerBytes, latency(query.RoundTrip), query.ServerCPUPerQuery*1e6)
		if query.FirstError != "" {
			fmt.Fprintf(output, "    first error: %s\n", query.FirstError)
		}
		if byKind[query.Kind] == nil {
			kinds = append(kinds, query.Kind)
		}
		byKind[query.Kind] = append(byKind[query.Kind], query)
	}
	for _, kind := range kinds {
		var p50, p99, server []float64
		for _, query := range byKind[kind] {
			p50, p99 = append(p50, query.RoundTrip.P50), append(p99, query.RoundTrip.P99)
			server = append(server, query.ServerCPUPerQuery)
		}
		fmt.Fprintf(output, "  query median %s: round trip p50 %.0f us, p99 %.0f us; server CPU %.1f us per query\n",
			kind, middle(p50)*1e6, middle(p99)*1e6, middle(server)*1e6)
	}
}

// middle returns the median of values (0 for none).
func middle(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(values))
	return sorted[len(sorted)/2]
}
