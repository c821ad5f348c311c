package gateway_test

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A strict parser of the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for the metrics
// tests. Besides the grammar it checks what Prometheus relies on: HELP and TYPE at
// most once per family and before its samples, the samples of a family contiguous,
// no duplicate series, sample names that fit the family's type, non-negative
// counters, and histograms whose buckets are cumulative and end in +Inf = _count.

// metricFamily is one family of a scrape.
type metricFamily struct {
	name    string
	help    string
	kind    string // "counter", "gauge", "histogram", "summary" or "untyped"
	hasHelp bool
	hasType bool
	samples []metricSample
}

// metricSample is one sample line.
type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

// series returns the sample's canonical series name: name{label="value",...} with
// labels sorted.
func (s metricSample) series() string {
	return seriesName(s.name, s.labels)
}

func seriesName(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for key := range labels {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, key := range keys {
		parts = append(parts, key+"="+strconv.Quote(labels[key]))
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

var (
	metricNamePattern = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNamePattern  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricKinds       = []string{"counter", "gauge", "histogram", "summary", "untyped"}
)

// parseExposition parses a whole scrape; the families are keyed by name.
func parseExposition(text string) (map[string]*metricFamily, error) {
	if text == "" || !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("the exposition is empty or does not end with a newline")
	}
	parser := expositionParser{families: map[string]*metricFamily{}, closed: map[string]bool{}, seen: map[string]bool{}}
	for number, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if err := parser.line(line); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", number+1, line, err)
		}
	}
	for _, family := range parser.families {
		if err := family.check(); err != nil {
			return nil, fmt.Errorf("family %s: %w", family.name, err)
		}
	}
	return parser.families, nil
}

// expositionParser is the parser's state.
type expositionParser struct {
	families map[string]*metricFamily
	// current is the family whose lines are being read; closed families may not
	// come back.
	current *metricFamily
	closed  map[string]bool
	// seen holds every series read, to find duplicates.
	seen map[string]bool
}

func (p *expositionParser) line(line string) error {
	switch {
	case line == "":
		return nil
	case strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE "):
		return p.metadata(line[2:6], line[7:])
	case strings.HasPrefix(line, "#"):
		return nil
	}
	return p.sample(line)
}

// enter makes name the current family, creating it; a family may not reappear
// after another one started.
func (p *expositionParser) enter(name string) *metricFamily {
	if p.current != nil && p.current.name == name {
		return p.current
	}
	if p.current != nil {
		p.closed[p.current.name] = true
	}
	family := p.families[name]
	if family == nil {
		family = &metricFamily{name: name, kind: "untyped"}
		p.families[name] = family
	}
	p.current = family
	return family
}

func (p *expositionParser) metadata(keyword, rest string) error {
	name, text, _ := strings.Cut(rest, " ")
	if !metricNamePattern.MatchString(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	if p.closed[name] {
		return fmt.Errorf("family %s is not contiguous", name)
	}
	family := p.enter(name)
	if len(family.samples) > 0 {
		return fmt.Errorf("%s after the samples of %s", keyword, name)
	}
	if keyword == "HELP" {
		if family.hasHelp {
			return fmt.Errorf("second HELP for %s", name)
		}
		if err := checkEscapes(text); err != nil {
			return err
		}
		family.help, family.hasHelp = text, true
		return nil
	}
	if family.hasType {
		return fmt.Errorf("second TYPE for %s", name)
	}
	if !slices.Contains(metricKinds, text) {
		return fmt.Errorf("unknown type %q", text)
	}
	family.kind, family.hasType = text, true
	return nil
}

// familyOf returns the family a sample name belongs to: a histogram's or summary's
// base name for its _bucket, _sum and _count samples, else the name itself.
func (p *expositionParser) familyOf(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		if family := p.families[base]; family != nil &&
			(family.kind == "histogram" || family.kind == "summary" && suffix != "_bucket") {
			return base
		}
	}
	return name
}

func (p *expositionParser) sample(line string) error {
	end := strings.IndexAny(line, "{ \t")
	if end < 0 {
		return fmt.Errorf("no value")
	}
	name, rest := line[:end], line[end:]
	if !metricNamePattern.MatchString(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	labels := map[string]string{}
	if strings.HasPrefix(rest, "{") {
		var err error
		if rest, err = parseLabels(rest[1:], labels); err != nil {
			return err
		}
	}
	fields := strings.Fields(rest)
	if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') || len(fields) < 1 || len(fields) > 2 {
		return fmt.Errorf("want a blank, a value and an optional timestamp after the series")
	}
	value, err := parseValue(fields[0])
	if err != nil {
		return err
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return fmt.Errorf("invalid timestamp %q", fields[1])
		}
	}
	familyName := p.familyOf(name)
	if p.closed[familyName] {
		return fmt.Errorf("family %s is not contiguous", familyName)
	}
	family := p.enter(familyName)
	parsed := metricSample{name: name, labels: labels, value: value}
	if p.seen[parsed.series()] {
		return fmt.Errorf("duplicate series %s", parsed.series())
	}
	p.seen[parsed.series()] = true
	family.samples = append(family.samples, parsed)
	return nil
}

// parseLabels reads `name="value",...}` into labels and returns what follows the
// closing brace. Blanks around names and a trailing comma are allowed, as in
// Prometheus' own parser.
func parseLabels(text string, labels map[string]string) (string, error) {
	for {
		text = strings.TrimLeft(text, " \t")
		if strings.HasPrefix(text, "}") {
			return text[1:], nil
		}
		equals := strings.IndexByte(text, '=')
		if equals < 0 {
			return "", fmt.Errorf("label without '='")
		}
		name := strings.TrimRight(text[:equals], " \t")
		if !labelNamePattern.MatchString(name) || strings.HasPrefix(name, "__") {
			return "", fmt.Errorf("invalid label name %q", name)
		}
		if _, duplicate := labels[name]; duplicate {
			return "", fmt.Errorf("duplicate label %q", name)
		}
		text = strings.TrimLeft(text[equals+1:], " \t")
		if !strings.HasPrefix(text, `"`) {
			return "", fmt.Errorf("label %s: value not quoted", name)
		}
		value, remainder, err := readQuoted(text[1:])
		if err != nil {
			return "", fmt.Errorf("label %s: %w", name, err)
		}
		labels[name] = value
		text = strings.TrimLeft(remainder, " \t")
		switch {
		case strings.HasPrefix(text, ","):
			text = text[1:]
		case strings.HasPrefix(text, "}"):
			return text[1:], nil
		default:
			return "", fmt.Errorf("want ',' or '}' after label %s", name)
		}
	}
}

// readQuoted reads a label value up to its closing quote, resolving the three
// escapes the format has (\\, \" and \n); it returns the value and the rest.
func readQuoted(text string) (string, string, error) {
	var value strings.Builder
	for index := 0; index < len(text); index++ {
		switch text[index] {
		case '"':
			return value.String(), text[index+1:], nil
		case '\\':
			index++
			if index == len(text) {
				return "", "", fmt.Errorf("unterminated escape")
			}
			switch text[index] {
			case '\\', '"':
				value.WriteByte(text[index])
			case 'n':
				value.WriteByte('\n')
			default:
				return "", "", fmt.Errorf("invalid escape \\%c", text[index])
			}
		default:
			value.WriteByte(text[index])
		}
	}
	return "", "", fmt.Errorf("unterminated value")
}

// checkEscapes rejects backslash escapes in a HELP text other than \\ and \n.
func checkEscapes(text string) error {
	for index := 0; index < len(text); index++ {
		if text[index] != '\\' {
			continue
		}
		index++
		if index == len(text) || !(text[index] == '\\' || text[index] == 'n') {
			return fmt.Errorf("invalid escape in %q", text)
		}
	}
	return nil
}

// parseValue reads a sample value or bucket bound as Prometheus does: Go float
// syntax (with Inf and NaN) but no hexadecimal exponents or digit separators.
func parseValue(text string) (float64, error) {
	value, err := strconv.ParseFloat(text, 64)
	if err != nil || strings.ContainsAny(text, "pP_") {
		return 0, fmt.Errorf("invalid value %q", text)
	}
	return value, nil
}

// check verifies what the family's type requires of its samples.
func (family *metricFamily) check() error {
	allowed := map[string][]string{
		"histogram": {family.name + "_bucket", family.name + "_sum", family.name + "_count"},
		"summary":   {family.name, family.name + "_sum", family.name + "_count"},
	}[family.kind]
	if allowed == nil {
		allowed = []string{family.name}
	}
	for _, sample := range family.samples {
		if !slices.Contains(allowed, sample.name) {
			return fmt.Errorf("sample %s does not fit type %s", sample.name, family.kind)
		}
		if family.kind == "counter" && !(sample.value >= 0) {
			return fmt.Errorf("counter sample %s = %v", sample.series(), sample.value)
		}
	}
	if family.kind == "histogram" {
		return family.checkHistogram()
	}
	return nil
}

// checkHistogram verifies, for every label set, cumulative buckets ending in +Inf
// with the same value as _count when _count is present. Prometheus accepts a
// histogram without _sum and _count, and the Go runtime histograms of
// VictoriaMetrics/metrics have none (the runtime gives no exact sum).
func (family *metricFamily) checkHistogram() error {
	type bucket struct{ bound, count float64 }
	buckets := map[string][]bucket{}
	totals := map[string]map[string]float64{}
	for _, sample := range family.samples {
		rest := map[string]string{}
		for key, value := range sample.labels {
			if key != "le" {
				rest[key] = value
			}
		}
		group := seriesName("", rest)
		if totals[group] == nil {
			totals[group] = map[string]float64{}
		}
		if sample.name != family.name+"_bucket" {
			totals[group][strings.TrimPrefix(sample.name, family.name)] = sample.value
			continue
		}
		bound, err := parseValue(sample.labels["le"])
		if err != nil {
			return fmt.Errorf("bucket %s: le: %w", sample.series(), err)
		}
		buckets[group] = append(buckets[group], bucket{bound, sample.value})
	}
	for group, list := range buckets {
		sort.Slice(list, func(left, right int) bool { return list[left].bound < list[right].bound })
		for index := 1; index < len(list); index++ {
			if list[index].count < list[index-1].count {
				return fmt.Errorf("%s: bucket le=%v holds less than the one before", group, list[index].bound)
			}
		}
		last := list[len(list)-1]
		count, hasCount := totals[group]["_count"]
		if !math.IsInf(last.bound, 1) || hasCount && last.count != count {
			return fmt.Errorf("%s: want a +Inf bucket, equal to _count", group)
		}
	}
	return nil
}
