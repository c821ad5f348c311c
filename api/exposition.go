package api

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wsgate/wsgate/session"
)

// exposition builds one scrape in the Prometheus text format, version 0.0.4. Every
// family it writes starts with its own "# HELP" and "# TYPE" lines. Names, help
// texts and reason labels are constants of this package or close reason names, none
// of which holds a backslash, quote or newline, so they need no escaping; the build
// labels of info are escaped. An
// exposition serves one request and is not safe for concurrent use.
type exposition struct {
	buffer bytes.Buffer
	// scratch receives a histogram's own output before its comment lines are dropped.
	scratch bytes.Buffer
}

// family writes the HELP and TYPE lines of a family; kind is "counter", "gauge" or
// "histogram".
func (e *exposition) family(name, kind, help string) {
	e.buffer.WriteString("# HELP ")
	e.buffer.WriteString(name)
	e.buffer.WriteByte(' ')
	e.buffer.WriteString(help)
	e.buffer.WriteString("\n# TYPE ")
	e.buffer.WriteString(name)
	e.buffer.WriteByte(' ')
	e.buffer.WriteString(kind)
	e.buffer.WriteByte('\n')
}

// counter writes a counter family with one unlabelled sample; name ends in _total.
func (e *exposition) counter(name, help string, value uint64) {
	e.family(name, "counter", help)
	e.buffer.WriteString(name)
	e.buffer.WriteByte(' ')
	e.buffer.Write(strconv.AppendUint(e.buffer.AvailableBuffer(), value, 10))
	e.buffer.WriteByte('\n')
}

// gauge writes a gauge family with one unlabelled sample.
func (e *exposition) gauge(name, help string, value float64) {
	e.family(name, "gauge", help)
	e.buffer.WriteString(name)
	e.buffer.WriteByte(' ')
	e.buffer.Write(strconv.AppendFloat(e.buffer.AvailableBuffer(), value, 'f', -1, 64))
	e.buffer.WriteByte('\n')
}

// labelEscaper escapes a label value for the text format: backslash, double quote
// and newline.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// info writes an info-style gauge family: one sample of value 1 whose labels carry
// the information, as in name{key="value",...} 1. Label values are escaped: they may
// come from build flags.
func (e *exposition) info(name, help string, labels [][2]string) {
	e.family(name, "gauge", help)
	e.buffer.WriteString(name)
	for index, label := range labels {
		if index == 0 {
			e.buffer.WriteByte('{')
		} else {
			e.buffer.WriteByte(',')
		}
		e.buffer.WriteString(label[0])
		e.buffer.WriteString(`="`)
		e.buffer.WriteString(labelEscaper.Replace(label[1]))
		e.buffer.WriteByte('"')
	}
	if len(labels) > 0 {
		e.buffer.WriteByte('}')
	}
	e.buffer.WriteString(" 1\n")
}

// countersByReason writes a counter family with one sample per reason that shown
// reports, labelled reason="<name>".
func (e *exposition) countersByReason(name, help string, counts *[session.ReasonCount]uint64, shown *reasonSet) {
	e.family(name, "counter", help)
	shown.each(counts, func(reason session.CloseReason, count uint64) {
		e.buffer.WriteString(name)
		e.buffer.WriteString(`{reason="`)
		e.buffer.WriteString(reason.String())
		e.buffer.WriteString(`"} `)
		e.buffer.Write(strconv.AppendUint(e.buffer.AvailableBuffer(), count, 10))
		e.buffer.WriteByte('\n')
	})
}

// countersByLabel writes a counter family with one sample per value of values, in
// order, labelled label="<value>" with the count from counts. The values are
// constants of wsgate (sources, wire codes), never names of channels or users.
func (e *exposition) countersByLabel(name, help, label string, values []string, counts map[string]uint64) {
	e.family(name, "counter", help)
	for _, value := range values {
		e.buffer.WriteString(name)
		e.buffer.WriteByte('{')
		e.buffer.WriteString(label)
		e.buffer.WriteString(`="`)
		e.buffer.WriteString(value)
		e.buffer.WriteString(`"} `)
		e.buffer.Write(strconv.AppendUint(e.buffer.AvailableBuffer(), counts[value], 10))
		e.buffer.WriteByte('\n')
	}
}

// histogram writes h's family: its own HELP and TYPE lines, then the buckets, sum
// and count from VictoriaMetrics/metrics without the library's comment lines (it
// writes HELP without text, and only when metadata is enabled process-wide).
func (e *exposition) histogram(h *histogram) {
	e.family(h.name, "histogram", h.help)
	e.scratch.Reset()
	h.set.WritePrometheus(&e.scratch)
	for line := range bytes.Lines(e.scratch.Bytes()) {
		if line[0] != '#' {
			e.buffer.Write(line)
		}
	}
}

// processMetrics appends the Go runtime (go_*) and process (process_*) families of
// VictoriaMetrics/metrics: memory, GC, goroutines, scheduler latency, CPU time, RSS,
// I/O. Their cost does not depend on the number of connections. process_open_fds is
// left out on purpose: counting /proc/self/fd is O(open sockets); wsgate_connections
// says the same for free.
func (e *exposition) processMetrics() {
	metrics.WriteProcessMetrics(&e.buffer)
}
