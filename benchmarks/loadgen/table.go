package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// printRun writes the human table of a run.
func printRun(output io.Writer, run *result.Run) {
	server := run.Server
	fmt.Fprintf(output, "server %s (%s, pid %d): GOGC=%s GOMEMLIMIT=%s, /metrics %s, forced GC %s\n",
		server.Name, server.URL, server.PID, orDefault(server.GOGC, "100"), orDefault(server.GOMEMLIMIT, "none"),
		yesNo(server.Metrics), yesNo(server.GCEndpoint))
	fmt.Fprintf(output, "machine: %d CPUs, %s, %s; generator: %d process(es), %d source address(es), %d dials at once, trigger %s\n",
		run.Machine.CPUs, run.Machine.Model, run.Date.Format("2006-01-02 15:04 UTC"),
		run.Generator.Processes, run.Generator.Sources, run.Generator.Concurrency, run.Generator.Trigger)
	if idle := run.Idle; idle != nil {
		table := tabwriter.NewWriter(output, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(output, "\nidle, heartbeat on:")
		fmt.Fprintln(table, "connections\tserver count\tRSS MiB\theap MiB\tgoroutines\tthreads\tkernel TCP buffers MiB\tkernel TCP sockets MiB\tsettled s\t")
		for _, sample := range idle.Samples {
			fmt.Fprintf(table, "%d\t%s\t%.1f\t%s\t%s\t%d\t%.1f\t%s\t%.0f%s\t\n",
				sample.Connections, optionalInt(sample.ServerConnections), mebibytes(sample.RSS), optionalMiB(sample.Heap),
				optionalInt(sample.Goroutines), sample.Threads, mebibytes(sample.KernelTCPBuffers),
				optionalMiB(sample.KernelTCPSockets), sample.Settle, unstable(sample.Stable))
		}
		table.Flush()
		fmt.Fprintf(output, "per connection (slope of the last two): RSS %.0f B, Go heap %s, kernel TCP buffers %.0f B, kernel TCP sockets %s (kernel figures count both ends)\n",
			idle.RSSPerConnection, optionalBytes(idle.HeapPerConnection), idle.KernelBuffersPerConn, optionalBytes(idle.KernelSocketsPerConn))
		fmt.Fprintf(output, "pings answered %d, connections closed by the server %d; %s\n", idle.PingsAnswered, idle.Closed, cpu(idle.CPU))
	}
	if connect := run.Connect; connect != nil {
		fmt.Fprintf(output, "\nconnect: %d of %d in %.2f s = %.0f/s, failed %d; %s\n",
			connect.Connected, connect.Target, connect.Seconds, connect.PerSecond, connect.Failed, cpu(connect.CPU))
	}
	if fanout := run.Fanout; fanout != nil {
		fmt.Fprintf(output, "\nfanout: %d broadcasts of %d bytes to %d connections: latency %s; time to the last connection %s; lost %d of %d, stale %d; %s\n",
			fanout.Broadcasts, fanout.PayloadBytes, fanout.Connections, latency(fanout.Latency), latency(fanout.Last),
			fanout.Lost, fanout.Expected, fanout.Stale, cpu(fanout.CPU))
		printWireBytes(output, fanout)
	}
	if rate := run.Rate; rate != nil {
		perDelivery, writes := "unknown", "unknown"
		if rate.ServerCPUPerDelivery != nil {
			perDelivery = fmt.Sprintf("%.2f us", *rate.ServerCPUPerDelivery*1e6)
		}
		if rate.ServerWritesPerDelivery != nil {
			writes = fmt.Sprintf("%.3f", *rate.ServerWritesPerDelivery)
		}
		fmt.Fprintf(output, "\nrate: %d broadcasts at %.0f/s over %.1f s: %d delivered = %.0f/s, lost %d of %d, stale %d; latency %s; server CPU per delivery %s, write calls per delivery %s; %s\n",
			rate.Sent, rate.Rate, rate.Duration, rate.Delivered, rate.DeliveredPerSecond, rate.Lost, rate.Expected, rate.Stale,
			latency(rate.Latency), perDelivery, writes, cpu(rate.CPU))
	}
	if echo := run.Echo; echo != nil {
		fmt.Fprintf(output, "\necho: %d connections for %.0f s: %d round trips = %.0f/s; latency %s; %s\n",
			echo.Connections, echo.Duration, echo.RoundTrips, echo.PerSecond, latency(echo.Latency), cpu(echo.CPU))
	}
	printChannels(output, run)
}

// printChannels writes the channel scenarios of a run.
func printChannels(output io.Writer, run *result.Run) {
	if fanout := run.ChannelFanout; fanout != nil {
		fmt.Fprintf(output, "\nchannel-fanout: %d publications of %d bytes to %d subscribers: latency %s; time to the last connection %s; lost %d of %d, stale %d; %s\n",
			fanout.Broadcasts, fanout.PayloadBytes, fanout.Connections, latency(fanout.Latency), latency(fanout.Last),
			fanout.Lost, fanout.Expected, fanout.Stale, cpu(fanout.CPU))
		printWireBytes(output, fanout)
		if run.Fanout != nil && run.Fanout.Last.P50 > 0 && run.Fanout.Last.P99 > 0 {
			fmt.Fprintf(output, "channel-fanout over fanout, time to the last connection: p50 %.2fx, p99 %.2fx\n",
				fanout.Last.P50/run.Fanout.Last.P50, fanout.Last.P99/run.Fanout.Last.P99)
		}
	}
	if rate := run.ChannelRate; rate != nil {
		perDelivery := "unknown"
		if rate.ServerCPUPerDelivery != nil {
			perDelivery = fmt.Sprintf("%.2f us", *rate.ServerCPUPerDelivery*1e6)
		}
		fmt.Fprintf(output, "\nchannels-rate: %s; %d publications at %.0f/s in batches of %d over %.1f s (%d rounds): %d delivered = %.0f/s, lost %d of %d, stale %d; latency %s; server CPU per delivery %s; %s\n",
			subscriptions(rate.Subscriptions), rate.Published, rate.PublicationsPerSec, rate.Batch, rate.Duration, rate.Rounds,
			rate.Delivered, rate.DeliveredPerSecond, rate.Lost, rate.Expected, rate.Stale, latency(rate.Latency), perDelivery, cpu(rate.CPU))
	}
	if memory := run.Subscription; memory != nil {
		fmt.Fprintf(output, "\nsubscriptions: %s; RSS %.1f -> %.1f MiB, Go heap %s -> %s MiB; per subscription: RSS %.0f B, Go heap %s; %s\n",
			subscriptions(memory.Subscriptions), mebibytes(memory.Before.RSS), mebibytes(memory.After.RSS),
			optionalMiB(memory.Before.Heap), optionalMiB(memory.After.Heap), memory.RSSPerSubscription,
			optionalBytes(memory.HeapPerSubscription), cpu(memory.CPU))
	}
	if churn := run.Churn; churn != nil {
		fmt.Fprintf(output, "\nchurn: %.0f s; %d steady connections (%d replaced, %d open at the end), %s; %d short-lived dialed at %.0f/s, %d failed, %d skipped; ended %v; %d welcomed, %d subscribed, %d frames read; API %v\n",
			churn.Seconds, churn.Steady, churn.SteadyReplaced, churn.SteadyOpen, subscriptions(churn.Subscriptions), churn.Attempted, churn.ConnectsPerSecond,
			churn.DialFailures, churn.Skipped, churn.Ended, churn.Welcomed, churn.Subscribed, churn.Received, churn.API)
		if churn.FirstError != "" {
			fmt.Fprintf(output, "churn: first error: %s\n", churn.FirstError)
		}
	}
	if storm := run.Storm; storm != nil {
		printStorm(output, storm)
	}
	if presence := run.Presence; presence != nil {
		printPresence(output, presence)
	}
}

func subscriptions(s result.Subscriptions) string {
	return fmt.Sprintf("%d subscribes (%d per connection, %d channels) confirmed %d, refused %d in %.1f s",
		s.Requested, s.PerConnection, s.Channels, s.Confirmed, s.Refused, s.Seconds)
}

// printStorm writes the storm scenario's figures.
func printStorm(output io.Writer, storm *result.Storm) {
	fmt.Fprintf(output, "\nstorm: %d steady connections, a broadcast every %.0f ms; %d clients at once: %d in after %.2f s\n",
		storm.Steady, storm.IntervalSeconds*1e3, storm.Clients, storm.In, storm.AllInSeconds)
	fmt.Fprintf(output, "steady delivery before: %s (%d); during the storm: %s (%d)\n",
		latency(storm.Before), storm.Before.Count, latency(storm.During), storm.During.Count)
	fmt.Fprintf(output, "refused %v, dial errors %d (first: %s), broadcast errors %d; %s\n",
		storm.Refused, storm.DialErrors, storm.FirstDialError, storm.BroadcastErrors, cpu(storm.CPU))
}

func latency(l result.Latency) string {
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms", l.P50*1e3, l.P99*1e3, l.Max*1e3)
}

func cpu(c result.CPU) string {
	server := "unknown"
	if c.Server != nil {
		server = fmt.Sprintf("%.2f s", *c.Server)
	}
	processes := ""
	if len(c.GeneratorProcesses) > 0 {
		parts := make([]string, len(c.GeneratorProcesses))
		for index, seconds := range c.GeneratorProcesses {
			parts[index] = fmt.Sprintf("%.2f", seconds)
		}
		processes = fmt.Sprintf(" (workers %s s)", strings.Join(parts, ", "))
	}
	return fmt.Sprintf("CPU generator %.2f s%s, busiest generator process %.0f%% of %.1f s, server %s",
		c.Generator, processes, 100*c.BusiestGenerator(), c.Wall, server)
}

func mebibytes(bytes int64) float64 { return float64(bytes) / (1 << 20) }

func optionalMiB(bytes *int64) string {
	if bytes == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", mebibytes(*bytes))
}

func optionalInt(value *int) string {
	if value == nil {
		return "n/a"
	}
	return fmt.Sprint(*value)
}

func optionalBytes(value *float64) string {
	if value == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.0f B", *value)
}

func unstable(stable bool) string {
	if stable {
		return ""
	}
	return " (not steady)"
}

func orDefault(value, fallback string) string {
	if value == "" {
		return fallback + " (unset)"
	}
	return value
}

func yesNo(value bool) string {
	if value {
		return "yes"
	}
	return "no"
}

// printWireBytes prints what the server sent per delivery, when it said.
func printWireBytes(output io.Writer, fanout *result.Fanout) {
	if fanout.WireBytes > 0 && fanout.Received > 0 {
		fmt.Fprintf(output, "  on the wire: %d bytes, %.0f per delivery (payload %d)\n",
			fanout.WireBytes, float64(fanout.WireBytes)/float64(fanout.Received), fanout.PayloadBytes)
	}
}
