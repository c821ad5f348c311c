package protocol

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite closecodes.json from the close-code table")

// closeCodesFile is the machine-readable close-code table the clients' tests read.
const closeCodesFile = "closecodes.json"

// closeCodesDocument is the shape of closecodes.json.
type closeCodesDocument struct {
	Comment       string          `json:"comment"`
	DefaultPolicy ReconnectPolicy `json:"default_policy"`
	Policies      []string        `json:"policies"`
	Ranges        []CodeRange     `json:"ranges"`
	Codes         []CloseCode     `json:"codes"`
}

func encodeCloseCodes(t *testing.T) []byte {
	t.Helper()
	document := closeCodesDocument{
		Comment: "Generated from protocol/closecodes.go by `go test ./protocol -run TestCloseCodesFileIsCurrent -update`; " +
			"do not edit. A code in codes has its policy; any other code takes the policy of the range holding it, else default_policy.",
		DefaultPolicy: DefaultPolicy,
		Policies:      policyNames[:],
		Ranges:        CloseCodeRanges(),
		Codes:         CloseCodes(),
	}
	encoded, err := json.MarshalIndent(document, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(encoded, '\n')
}

// TestCloseCodesFileIsCurrent fails when closecodes.json differs from the table;
// -update rewrites it.
func TestCloseCodesFileIsCurrent(t *testing.T) {
	want := encodeCloseCodes(t)
	if *update {
		if err := os.WriteFile(closeCodesFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(closeCodesFile)
	if err != nil {
		t.Fatalf("%v (create it with go test ./protocol -run TestCloseCodesFileIsCurrent -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./protocol -run TestCloseCodesFileIsCurrent -update", closeCodesFile)
	}
}

func TestCloseCodeTableIsOrderedAndConsistentWithItsRanges(t *testing.T) {
	names := map[string]bool{}
	for index, entry := range closeCodes {
		if index > 0 {
			previous := closeCodes[index-1]
			switch {
			case entry.Code < previous.Code:
				t.Errorf("%d follows %d: the table must be in code order", entry.Code, previous.Code)
			case entry.Code == previous.Code && entry.Policy != previous.Policy:
				t.Errorf("%d is listed as %s and as %s: a client sees the code only, so one code has one policy",
					entry.Code, previous.Name, entry.Name)
			}
		}
		if found, _ := LookupCloseReason(entry.Name); found != entry {
			t.Errorf("LookupCloseReason(%q) = %+v, want %+v", entry.Name, found, entry)
		}
		if names[entry.Name] || entry.Name == "" {
			t.Errorf("%d: name %q is empty or taken", entry.Code, entry.Name)
		}
		names[entry.Name] = true
		if len(entry.Text) > MaxCloseTextSize {
			t.Errorf("%d: text longer than a close frame allows", entry.Code)
		}
		for _, codeRange := range closeCodeRanges {
			if entry.Code >= codeRange.First && entry.Code <= codeRange.Last && entry.Policy != codeRange.Policy {
				t.Errorf("%d: policy %s contradicts its range's %s", entry.Code, entry.Policy, codeRange.Policy)
			}
		}
		if PolicyOf(int(entry.Code)) != entry.Policy {
			t.Errorf("PolicyOf(%d) = %s, want the table's %s", entry.Code, PolicyOf(int(entry.Code)), entry.Policy)
		}
	}
	for code, want := range map[int]ReconnectPolicy{
		1005: PolicyBackoff, 3000: PolicyBackoff, 4099: PolicyBackoff, 4150: PolicyRefreshToken, 4199: PolicyRefreshToken,
		4200: PolicyBackoff, 4400: PolicyTerminal, 4499: PolicyTerminal, 4500: PolicyBackoff, -1: PolicyBackoff, 70000: PolicyBackoff,
	} {
		if got := PolicyOf(code); got != want {
			t.Errorf("PolicyOf(%d) = %s, want %s", code, got, want)
		}
	}
	if _, err := ReconnectPolicy(9).MarshalText(); err == nil || ReconnectPolicy(9).String() != "policy(9)" {
		t.Error("an unknown policy must not encode and must name itself by number")
	}
}

// closeCodeRow matches a row of the close-code table in docs/protocol.md: code, reason
// text, reason name, when, client policy.
var closeCodeRow = regexp.MustCompile("^\\| (\\d{4}) \\| ([^|]*) \\| `([a-z_]+)` \\|[^|]*\\| ([^|]*) \\|$")

// TestProtocolDocumentAgreesWithTheTable holds docs/protocol.md's close-code table to
// this one: the same codes and reason names (1006 is described below that table,
// never being sent), texts and policies.
func TestProtocolDocumentAgreesWithTheTable(t *testing.T) {
	document, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for line := range strings.SplitSeq(string(document), "\n") {
		row := closeCodeRow.FindStringSubmatch(line)
		if row == nil {
			continue
		}
		code, _ := strconv.Atoi(row[1])
		text, name, policy := row[2], row[3], row[4]
		entry, found := LookupCloseReason(name)
		if !found || entry.Code != uint16(code) {
			t.Errorf("docs/protocol.md lists %d %s, which the table does not", code, name)
			continue
		}
		documented[entry.Name] = true
		if entry.Text == "" && text != "(echo)" || entry.Text != "" && !strings.HasPrefix(text, "`"+entry.Text+"`") {
			t.Errorf("%d: docs give the text %s, the table %q", code, text, entry.Text)
		}
		if got := documentedPolicy(policy); got != entry.Policy {
			t.Errorf("%d: docs describe the policy as %q (%s), the table says %s", code, policy, got, entry.Policy)
		}
	}
	for _, entry := range closeCodes {
		if !documented[entry.Name] && entry.Code != CloseAbnormal {
			t.Errorf("docs/protocol.md's close-code table lacks %d %s", entry.Code, entry.Name)
		}
	}
}

// documentedPolicy reads the policy out of the prose of the docs' policy column.
func documentedPolicy(text string) ReconnectPolicy {
	switch {
	case strings.Contains(text, "terminal"):
		return PolicyTerminal
	case strings.Contains(text, "jitter"):
		return PolicyJitter
	case strings.Contains(text, "fresh token"):
		return PolicyRefreshToken
	case strings.Contains(text, "backoff"):
		return PolicyBackoff
	}
	return ReconnectPolicy(255)
}
