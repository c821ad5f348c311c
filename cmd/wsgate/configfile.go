package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/wsgate/wsgate/channels"
)

// namespacesKey is the file's key for the list of channel namespaces, the one key
// that is not a flag.
const namespacesKey = "namespaces"

// configFile is a -config file, read and checked: the settings it gives by flag
// name and its channel namespaces, each with its line, so that any later error can
// point at the line.
type configFile struct {
	path       string
	settings   []fileSetting
	namespaces []namespaceEntry
	// anchors are the nodes marked &name so far, while the file is read.
	anchors map[string]ast.Node
}

// fileSetting is one "flag-name: value" of the file, its value as the flag's text.
type fileSetting struct {
	name string
	text string
	line int
}

// namespaceEntry is one entry of the file's namespaces list.
type namespaceEntry struct {
	options channels.NamespaceOptions
	// line is the entry's first line; keyLines the line of each key it gives.
	line     int
	keyLines map[string]int
}

// settableInFile reports whether the file may set flag name: not a command
// (-version, -healthcheck), and not -config itself, since a file names no other file.
func settableInFile(name string) bool {
	return !commands[name] && name != "config"
}

// parseConfigFile reads content, the YAML (or JSON) text of the file at path. It
// checks the syntax, that every key is a flag the file may set or "namespaces", and
// that every value has its flag's type (parsed as the flag parses it); every error
// starts with path:line. Rules that depend on other settings (validate) and the
// namespaces' rules (checkNamespaces) are checked once flags and variables are
// merged. An empty file, or one of comments only, sets nothing.
func parseConfigFile(path string, content []byte) (*configFile, error) {
	file := &configFile{path: path, anchors: map[string]ast.Node{}}
	parsed, err := parser.ParseBytes(content, 0)
	if err != nil {
		return nil, file.syntaxError(err)
	}
	if len(parsed.Docs) > 1 {
		second := parsed.Docs[1]
		line := 0
		switch {
		case second.Start != nil:
			line = second.Start.Position.Line
		case second.Body != nil:
			line = lineOf(second.Body)
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document; the file holds one", file.path, line)
	}
	if len(parsed.Docs) == 0 || parsed.Docs[0].Body == nil {
		return file, nil
	}
	root, err := file.resolved(parsed.Docs[0].Body)
	if err != nil {
		return nil, err
	}
	settings, isMapping := root.(ast.MapNode)
	if !isMapping {
		return nil, file.errorAt(root, "the file is %s; it must be a mapping of settings (name: value)", kindName(root))
	}
	// The values are parsed into flags of a set of their own, so that a flag given on
	// the command line keeps its value while the file's is checked.
	scratch := flag.NewFlagSet("file", flag.ContinueOnError)
	defineFlags(scratch, &options{})
	for pairs := settings.MapRange(); pairs.Next(); {
		key, value, err := file.pair(pairs)
		if err != nil {
			return nil, err
		}
		if key == namespacesKey {
			if err := file.readNamespaces(value); err != nil {
				return nil, err
			}
			continue
		}
		setting := scratch.Lookup(key)
		switch {
		case setting == nil:
			return nil, file.errorAt(pairs.Key(), "unknown key %q; the keys are the flag names without the dash (wsgate -h) and %s",
				key, namespacesKey)
		case !settableInFile(key):
			return nil, file.errorAt(pairs.Key(), "%s cannot be set in the file, only on the command line", key)
		}
		text, err := file.scalarText(key, value, setting.Value)
		if err != nil {
			return nil, err
		}
		file.settings = append(file.settings, fileSetting{name: key, text: text, line: lineOf(value)})
	}
	return file, nil
}

// apply sets each flag of flags that neither the command line (given) nor a
// variable (at.fromEnvironment) has set to the file's value, and records its line
// in at.fromFile.
func (file *configFile) apply(flags *flag.FlagSet, given map[string]bool, at sources) {
	for _, setting := range file.settings {
		if given[setting.name] || at.fromEnvironment[setting.name] {
			continue
		}
		// parseConfigFile has parsed the text with a flag of the same type.
		_ = setUnchecked(flags.Lookup(setting.name), setting.text)
		at.fromFile[setting.name] = setting.line
	}
}

// pair returns the key of the current pair of pairs as text and its value with
// anchors, aliases and tags resolved. (The parser refuses a key given twice.)
func (file *configFile) pair(pairs *ast.MapNodeIter) (string, ast.Node, error) {
	key, found := scalarValue(pairs.Key())
	if !found {
		return "", nil, file.errorAt(pairs.Key(), "a key must be a name, not %s", kindName(pairs.Key()))
	}
	value, err := file.resolved(pairs.Value())
	return key, value, err
}

// readNamespaces reads the namespaces list: each entry a mapping of the keys of
// channels.NamespaceOptions, "name" required.
func (file *configFile) readNamespaces(list ast.Node) error {
	sequence, isList := list.(*ast.SequenceNode)
	if !isList {
		return file.errorAt(list, "%s: %s, not a list of namespaces (- name: ...)", namespacesKey, kindName(list))
	}
	for _, item := range sequence.Values {
		item, err := file.resolved(item)
		if err != nil {
			return err
		}
		mapping, isMapping := item.(ast.MapNode)
		if !isMapping {
			return file.errorAt(item, "%s: an entry is a mapping (name: ..., subscribe: ...), not %s", namespacesKey, kindName(item))
		}
		entry := namespaceEntry{line: lineOf(item), keyLines: map[string]int{}}
		fields := namespaceFields(&entry.options)
		for pairs := mapping.MapRange(); pairs.Next(); {
			key, value, err := file.pair(pairs)
			if err != nil {
				return err
			}
			field := fields.Lookup(key)
			if field == nil {
				return file.errorAt(pairs.Key(), "%s: unknown key %q; an entry has %s", namespacesKey, key, flagNames(fields))
			}
			entry.keyLines[key] = lineOf(pairs.Key())
			if _, err := file.scalarText(namespacesKey+": "+key, value, field.Value); err != nil {
				return err
			}
		}
		if _, named := entry.keyLines["name"]; !named {
			return file.errorAt(item, `%s: an entry needs a name ("" for the default namespace, channels without ':')`, namespacesKey)
		}
		file.namespaces = append(file.namespaces, entry)
	}
	return nil
}

// namespaceFields returns the keys of a namespaces entry, one flag each, bound to the
// fields of options: the values are parsed and their errors worded as the command
// line's. The keys are channels.NamespaceOptions' yaml tags (a test holds them equal).
func namespaceFields(options *channels.NamespaceOptions) *flag.FlagSet {
	fields := flag.NewFlagSet(namespacesKey, flag.ContinueOnError)
	fields.StringVar(&options.Name, "name", "", "")
	fields.StringVar((*string)(&options.Subscribe), "subscribe", "", "")
	fields.StringVar((*string)(&options.Publish), "publish", "", "")
	fields.BoolVar(&options.PublisherReceives, "publisher_receives", false, "")
	fields.IntVar(&options.MaxSubscribers, "max_subscribers", 0, "")
	fields.BoolVar(&options.Personal, "personal", false, "")
	fields.IntVar(&options.HistorySize, "history_size", 0, "")
	fields.DurationVar(&options.HistoryTTL, "history_ttl", 0, "")
	fields.IntVar(&options.RecoverMax, "recover_max", 0, "")
	fields.BoolVar(&options.SubscribeCheck, "subscribe_check", false, "")
	fields.BoolVar(&options.PublishCheck, "publish_check", false, "")
	fields.BoolVar(&options.Presence, "presence", false, "")
	fields.BoolVar(&options.JoinLeave, "join_leave", false, "")
	return fields
}

// flagNames lists the names of flags, comma-separated, in the flag package's
// (alphabetical) order.
func flagNames(flags *flag.FlagSet) string {
	var names []string
	flags.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return strings.Join(names, ", ")
}

// scalarText sets target, the value of key, from node and returns node's text: node
// must be a single value that target parses, or the error says what it is and what
// is wanted, worded as for the flag.
func (file *configFile) scalarText(key string, node ast.Node, target flag.Value) (string, error) {
	if _, isNull := node.(*ast.NullNode); isNull {
		return "", file.errorAt(node, "%s: no value; give %s or remove the key", key, typeName(target))
	}
	text, isScalar := scalarValue(node)
	if !isScalar {
		return "", file.errorAt(node, "%s: %s, not %s", key, kindName(node), typeName(target))
	}
	if err := target.Set(text); err != nil {
		return "", file.errorAt(node, "%s: %q: %s", key, text, valueProblem(target, text))
	}
	return text, nil
}

// scalarValue returns the text of a single value as written, without quotes: the
// flag's parser, not YAML's types, decides what it means (so "publish: off" is the
// word off, not YAML 1.1's false).
func scalarValue(node ast.Node) (string, bool) {
	switch node := node.(type) {
	case *ast.StringNode:
		return node.Value, true
	case *ast.LiteralNode:
		return node.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return node.GetToken().Value, true
	}
	return "", false
}

// namespaceOptions returns the file's namespaces in file order.
func (file *configFile) namespaceOptions() []channels.NamespaceOptions {
	list := make([]channels.NamespaceOptions, len(file.namespaces))
	for index, entry := range file.namespaces {
		list[index] = entry.options
	}
	return list
}

// checkNamespaces validates the file's namespaces as gateway.New will, with
// channels.NewNamespaces (authentication says whether JWT is configured), and points
// an error at the line of the option at fault: the entry is the first whose list so
// far NewNamespaces refuses, the line that of the key the error names. A
// subscribe_check or publish_check needs its callback's URL (checks says which
// are set).
func (file *configFile) checkNamespaces(authentication bool, checks checkURLs) error {
	list := file.namespaceOptions()
	_, refused := channels.NewNamespaces(list, authentication)
	if refused == nil {
		return file.checkCallbacks(checks)
	}
	for index, entry := range file.namespaces {
		_, err := channels.NewNamespaces(list[:index+1], authentication)
		if err == nil {
			continue
		}
		var optionError *channels.OptionError
		if !errors.As(err, &optionError) {
			return fmt.Errorf("%s:%d: %w", file.path, entry.line, err)
		}
		line, given := entry.keyLines[optionError.Field]
		if !given {
			line = entry.line
		}
		if optionError.Field == "name" {
			for _, earlier := range file.namespaces[:index] {
				if earlier.options.Name == entry.options.Name {
					return fmt.Errorf("%s:%d: %w (first at line %d)", file.path, line, err, earlier.keyLines["name"])
				}
			}
		}
		return fmt.Errorf("%s:%d: %w", file.path, line, err)
	}
	return fmt.Errorf("%s: %w", file.path, refused)
}

// checkURLs says which check callbacks have a URL: -subscribe-url and -publish-url.
type checkURLs struct{ subscribe, publish bool }

// checkCallbacks points at the first subscribe_check or publish_check whose
// callback has no URL.
func (file *configFile) checkCallbacks(checks checkURLs) error {
	for _, entry := range file.namespaces {
		for _, check := range []struct {
			key, flag     string
			asked, hasURL bool
		}{{"subscribe_check", "subscribe-url", entry.options.SubscribeCheck, checks.subscribe},
			{"publish_check", "publish-url", entry.options.PublishCheck, checks.publish}} {
			if check.asked && !check.hasURL {
				return fmt.Errorf("%s:%d: namespace %q: %s: needs -%s, the backend URL that answers the check", file.path,
					entry.keyLines[check.key], entry.options.Name, check.key, check.flag)
			}
		}
	}
	return nil
}

// resolved returns node with its anchor (&name) or tag (!!str) taken off, and an
// alias (*name) replaced by the node its anchor marks. Anchors are recorded as the
// file is read, in order, as YAML defines them.
func (file *configFile) resolved(node ast.Node) (ast.Node, error) {
	for {
		switch wrapper := node.(type) {
		case *ast.AnchorNode:
			file.anchors[wrapper.Name.GetToken().Value] = wrapper.Value
			node = wrapper.Value
		case *ast.TagNode:
			node = wrapper.Value
		case *ast.AliasNode:
			name := wrapper.Value.GetToken().Value
			anchored, found := file.anchors[name]
			if !found {
				return nil, file.errorAt(node, "*%s: no anchor &%s before it", name, name)
			}
			node = anchored
		default:
			return node, nil
		}
	}
}

// errorAt returns an error at node's line: "path:line: " and the formatted problem.
func (file *configFile) errorAt(node ast.Node, format string, arguments ...any) error {
	return fmt.Errorf("%s:%d: %s", file.path, lineOf(node), fmt.Sprintf(format, arguments...))
}

// locatedError is how the parser's errors (go-yaml's yaml.Error) tell where they
// are, without linking go-yaml's reflection-based decoder into the binary.
type locatedError interface {
	GetToken() *token.Token
	GetMessage() string
}

// syntaxError returns the parser's error as "path:line: problem", at the line of the
// token where the parser found the problem.
func (file *configFile) syntaxError(err error) error {
	var located locatedError
	if errors.As(err, &located) && located.GetToken() != nil {
		return fmt.Errorf("%s:%d: %s", file.path, located.GetToken().Position.Line, located.GetMessage())
	}
	return fmt.Errorf("%s: %w", file.path, err)
}

// lineOf returns the line node starts on.
func lineOf(node ast.Node) int {
	if token := node.GetToken(); token != nil {
		return token.Position.Line
	}
	return 0
}

// kindName says what node is, for an error: "a list", "a mapping", "no value" or
// "a single value" and the value.
func kindName(node ast.Node) string {
	if text, isScalar := scalarValue(node); isScalar {
		return fmt.Sprintf("a single value (%q)", text)
	}
	switch node.(type) {
	case *ast.SequenceNode:
		return "a list"
	case ast.MapNode:
		return "a mapping"
	case *ast.NullNode:
		return "no value"
	case *ast.MergeKeyNode:
		return "a merge key (<<)"
	}
	return "a " + node.Type().String()
}

// typeName says what value takes, for an error: "a duration", "a whole number"...
func typeName(value flag.Value) string {
	switch value.(flag.Getter).Get().(type) {
	case time.Duration:
		return "a duration"
	case int:
		return "a whole number"
	case float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return "text"
}
