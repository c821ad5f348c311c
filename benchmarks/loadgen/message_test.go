package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestNumberAfter(t *testing.T) {
	data := []byte(`{"type":"broadcast","content":{"phase":2,"seq":137,"sent":1767000000123456789,"pad":"x"}}`)
	for _, check := range []struct {
		key  []byte
		want int64
	}{{keyPhase, 2}, {keySeq, 137}, {keySent, 1767000000123456789}} {
		got, ok := numberAfter(data, check.key)
		if !ok || got != check.want {
			t.Errorf("%s = %d, %v; want %d", check.key, got, ok, check.want)
		}
	}
	if _, ok := numberAfter(data, keyEcho); ok {
		t.Error("a missing key must not parse")
	}
	if _, ok := numberAfter([]byte(`{"seq":"7"}`), keySeq); ok {
		t.Error("a string is not a number")
	}
}

func TestBroadcastContentIsValidPaddedJSON(t *testing.T) {
	content := broadcastContent(1, 49, 1767000000123456789, defaultPayloadBytes)
	var decoded struct {
		Phase int   `json:"phase"`
		Seq   int   `json:"seq"`
		Sent  int64 `json:"sent"`
	}
	if err := json.Unmarshal(content, &decoded); err != nil {
		t.Fatalf("%s: %v", content, err)
	}
	if decoded.Phase != 1 || decoded.Seq != 49 || decoded.Sent != 1767000000123456789 {
		t.Fatalf("decoded %+v", decoded)
	}
	if len(content) != defaultPayloadBytes {
		t.Errorf("content is %d bytes, want %d", len(content), defaultPayloadBytes)
	}
	frame := wrap(content)
	if !json.Valid(frame) || len(frame) < 95 || len(frame) > 105 {
		t.Errorf("broadcast frame %q is %d bytes, want valid JSON of about 100", frame, len(frame))
	}
	if sent, ok := numberAfter(echoMessage(42), keyEcho); !ok || sent != 42 || !json.Valid(echoMessage(42)) {
		t.Error("echo message does not carry its send time")
	}
}

func TestAcceptKeyMatchesRFC6455Example(t *testing.T) {
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("acceptKey = %q", got)
	}
}

func TestSteadyNeedsThreeAgreeingReadings(t *testing.T) {
	heap := func(value int64) *int64 { return &value }
	const mib = 1 << 20
	agreeing := []reading{{rss: 100 * mib, heap: heap(50 * mib)}, {rss: 100*mib + 100<<10, heap: heap(50 * mib)}, {rss: 100 * mib, heap: heap(50*mib + 200<<10)}}
	if !steady(agreeing, true) {
		t.Error("three readings within tolerance must be steady")
	}
	if steady(agreeing[:2], true) {
		t.Error("two readings are not enough")
	}
	growing := append(append([]reading(nil), agreeing[:2]...), reading{rss: 102 * mib, heap: heap(50 * mib)})
	if steady(growing, true) {
		t.Error("RSS that grew 2% is not steady")
	}
	heapGrowing := append(append([]reading(nil), agreeing[:2]...), reading{rss: 100 * mib, heap: heap(52 * mib)})
	if steady(heapGrowing, true) {
		t.Error("a heap that grew 4% is not steady")
	}
	if !steady(heapGrowing, false) {
		t.Error("without a forced GC only RSS has to be steady")
	}
}

func TestChannelMessagesAreValidJSON(t *testing.T) {
	subscribe := subscribeMessage("rate-7")
	var decoded struct {
		Type    string `json:"type"`
		Channel string `json:"channel"`
		Data    struct {
			Seq int `json:"seq"`
		} `json:"data"`
	}
	if err := json.Unmarshal(subscribe, &decoded); err != nil || decoded.Type != "subscribe" || decoded.Channel != "rate-7" {
		t.Fatalf("%s: %+v, %v", subscribe, decoded, err)
	}
	frame := publicationFrame("fanout-0", broadcastContent(3, 12, 42, defaultPayloadBytes))
	if err := json.Unmarshal(frame, &decoded); err != nil || decoded.Type != "publication" || decoded.Data.Seq != 12 {
		t.Fatalf("%s: %+v, %v", frame, decoded, err)
	}
	if sequence, ok := numberAfter(frame, keySeq); !ok || sequence != 12 {
		t.Error("a publication's sequence must be found by the byte search")
	}
}

func TestLargeBroadcastContentIsJSONOfItsSize(t *testing.T) {
	for _, size := range []int{1 << 10, 10 << 10} {
		content := broadcastContent(1, 7, 1767000000123456789, size)
		var decoded struct {
			Seq   int              `json:"seq"`
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(content, &decoded); err != nil || len(content) != size || decoded.Seq != 7 || len(decoded.Items) < size/100 {
			t.Fatalf("%d-byte content: %d bytes, %d records, seq %d, %v", size, len(content), len(decoded.Items), decoded.Seq, err)
		}
		if bytes.Equal(content, broadcastContent(1, 8, 1767000000123456789, size)[:size]) {
			t.Fatalf("broadcasts 7 and 8 carry the same %d bytes", size)
		}
	}
}
