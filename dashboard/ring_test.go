package dashboard

import (
	"encoding/json"
	"strconv"
	"testing"
)

// ringJSON decodes what appendJSON writes.
type ringJSON struct {
	Start  int64       `json:"start"`
	Values [][]*uint32 `json:"values"`
}

func decodeRing(t *testing.T, r *ring) (ringJSON, int64) {
	t.Helper()
	encoded, newest := r.appendJSON(nil, func(buffer []byte, _ int, value uint32) []byte {
		return strconv.AppendUint(buffer, uint64(value), 10)
	})
	var decoded ringJSON
	if err := json.Unmarshal(encoded, &decoded); err != nil {
		t.Fatalf("appendJSON wrote %s: %v", encoded, err)
	}
	return decoded, newest
}

// flat returns a series as numbers, -1 where absent.
func flat(values []*uint32) []int64 {
	numbers := make([]int64, len(values))
	for index, value := range values {
		numbers[index] = -1
		if value != nil {
			numbers[index] = int64(*value)
		}
	}
	return numbers
}

func TestRingKeepsTheLastSizeSecondsInOrderWithGapsAbsent(t *testing.T) {
	r := newRing(2, 4)
	if decoded, newest := decodeRing(t, r); newest != 0 || len(decoded.Values) != 2 || len(decoded.Values[0]) != 0 {
		t.Fatalf("an empty ring encodes %+v, newest %d; want two empty series", decoded, newest)
	}
	r.put(100, []uint32{1, 10})
	r.put(101, []uint32{2, 20})
	r.put(103, []uint32{4, 40}) // 102 skipped
	decoded, newest := decodeRing(t, r)
	if decoded.Start != 100 || newest != 103 || !equal(flat(decoded.Values[0]), []int64{1, 2, -1, 4}) ||
		!equal(flat(decoded.Values[1]), []int64{10, 20, -1, 40}) {
		t.Fatalf("after 100, 101, 103: start %d newest %d, %v %v", decoded.Start, newest, flat(decoded.Values[0]), flat(decoded.Values[1]))
	}
	r.put(105, []uint32{6, 60}) // wraps: 100 and 101 leave, 104 absent
	decoded, _ = decodeRing(t, r)
	if decoded.Start != 102 || !equal(flat(decoded.Values[0]), []int64{-1, 4, -1, 6}) {
		t.Fatalf("after wrapping: start %d, %v; want 102: absent, 4, absent, 6", decoded.Start, flat(decoded.Values[0]))
	}
	r.put(104, []uint32{7, 70}) // a clock set back replaces the newest second
	decoded, newest = decodeRing(t, r)
	if newest != 105 || !equal(flat(decoded.Values[0]), []int64{-1, 4, -1, 7}) {
		t.Fatalf("after a second from the past: newest %d, %v; want 105 holding 7", newest, flat(decoded.Values[0]))
	}
	r.put(1000, []uint32{8, 80}) // a gap longer than the ring leaves only the new second
	decoded, _ = decodeRing(t, r)
	if decoded.Start != 997 || !equal(flat(decoded.Values[1]), []int64{-1, -1, -1, 80}) {
		t.Fatalf("after a long gap: start %d, %v", decoded.Start, flat(decoded.Values[1]))
	}
}

func TestTheHourOfHistoryTakes288000Bytes(t *testing.T) {
	_, d := newNode(t)
	r := d.history
	if seriesCount != 20 || d.HistoryBytes() != 288000 {
		t.Fatalf("%d series take %d bytes; want 20 series in 288,000 bytes", seriesCount, d.HistoryBytes())
	}
	for second := range int64(2 * HistorySeconds) {
		r.put(1+second, make([]uint32, seriesCount))
	}
	if r.bytes() != 288000 || cap(r.values) != seriesCount*HistorySeconds {
		t.Fatalf("after two hours the ring takes %d bytes", r.bytes())
	}
	decoded, _ := decodeRing(t, r)
	if len(decoded.Values[0]) != HistorySeconds || decoded.Start != 1+HistorySeconds {
		t.Fatalf("after two hours the ring holds %d seconds from %d; want the last %d", len(decoded.Values[0]), decoded.Start, HistorySeconds)
	}
}

func equal(left, right []int64) bool {
	if len(left) != len(right) {
		return false
	}
	for index := range left {
		if left[index] != right[index] {
			return false
		}
	}
	return true
}
