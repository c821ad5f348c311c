package main

import (
	"bytes"
	"math/rand/v2"
	"strconv"
)

// Fragments of the JSON messages the load generator sends and recognises. Servers
// write compact JSON, so a byte search is enough and costs far less than decoding
// every message on the generator's single core.
var (
	typePing = []byte(`"type":"ping"`)
	// typeSubscribed and typeError are the answers to a subscribe; the load
	// generator sends nothing else that the server could answer with an error.
	typeSubscribed = []byte(`"type":"subscribed"`)
	typeError      = []byte(`"type":"error"`)
	pong           = []byte(`{"type":"pong"}`)
	keyEcho        = []byte(`"echo":`)
	keyPhase       = []byte(`"phase":`)
	keySeq         = []byte(`"seq":`)
	keySent        = []byte(`"sent":`)
)

// defaultPayloadBytes is the default size of a broadcast's content (-payload), so
// that the {"type":"broadcast","content":...} frame payload is about 100 bytes.
const defaultPayloadBytes = 70

// numberAfter returns the non-negative integer that follows key in data.
func numberAfter(data, key []byte) (int64, bool) {
	at := bytes.Index(data, key)
	if at < 0 {
		return 0, false
	}
	digits := data[at+len(key):]
	value, seen := int64(0), false
	for _, digit := range digits {
		if digit < '0' || digit > '9' {
			break
		}
		value = value*10 + int64(digit-'0')
		seen = true
	}
	return value, seen
}

// broadcastContent returns the content of broadcast number sequence of phase, sent
// at sent (unix nanoseconds), of size bytes (or its three numbers alone, if size is
// smaller): after them, JSON records of random words and numbers (different in
// every broadcast, so they compress about as well as real JSON does), then padding.
func broadcastContent(phase, sequence int, sent int64, size int) []byte {
	content := make([]byte, 0, size+8)
	content = append(content, `{"phase":`...)
	content = strconv.AppendInt(content, int64(phase), 10)
	content = append(content, `,"seq":`...)
	content = strconv.AppendInt(content, int64(sequence), 10)
	content = append(content, `,"sent":`...)
	content = strconv.AppendInt(content, sent, 10)
	content = appendRecords(content, size-len(`,"pad":""}`), rand.New(rand.NewPCG(uint64(phase), uint64(sequence))))
	content = append(content, `,"pad":"`...)
	for len(content) < size-2 {
		content = append(content, 'x')
	}
	return append(content, `"}`...)
}

// recordWords are the words of appendRecords' records.
var recordWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
	"juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"}

// appendRecords appends `,"items":[...]` with as many records
// {"id":...,"name":"...","price":...,"stock":...} as fit within limit bytes of
// content; nothing when not even one fits.
func appendRecords(content []byte, limit int, random *rand.Rand) []byte {
	var record []byte
	for index := 0; ; index++ {
		record = record[:0]
		if index == 0 {
			record = append(record, `,"items":[`...)
		} else {
			record = append(record, ',')
		}
		record = append(record, `{"id":`...)
		record = strconv.AppendInt(record, random.Int64N(1_000_000), 10)
		record = append(record, `,"name":"`...)
		record = append(record, recordWords[random.IntN(len(recordWords))]...)
		record = append(record, ' ')
		record = append(record, recordWords[random.IntN(len(recordWords))]...)
		record = append(record, `","price":`...)
		record = strconv.AppendFloat(record, float64(random.IntN(100_000))/100, 'f', 2, 64)
		record = append(record, `,"stock":`...)
		record = strconv.AppendInt(record, int64(random.IntN(500)), 10)
		record = append(record, '}')
		if len(content)+len(record)+1 > limit {
			if index == 0 {
				return content
			}
			return append(content, ']')
		}
		content = append(content, record...)
	}
}

// echoMessage returns a {"type":"message"} whose content carries its send time.
func echoMessage(sent int64) []byte {
	message := make([]byte, 0, 64)
	message = append(message, `{"type":"message","content":{"echo":`...)
	message = strconv.AppendInt(message, sent, 10)
	return append(message, `}}`...)
}

// wrap returns {"type":"broadcast","content":content}, the seed's client broadcast.
func wrap(content []byte) []byte {
	message := make([]byte, 0, len(content)+32)
	message = append(message, `{"type":"broadcast","content":`...)
	message = append(message, content...)
	return append(message, '}')
}

// subscribeMessage returns {"type":"subscribe","channel":channel}.
func subscribeMessage(channel string) []byte {
	message := make([]byte, 0, len(channel)+36)
	message = append(message, `{"type":"subscribe","channel":"`...)
	message = append(message, channel...)
	return append(message, `"}`...)
}

// publicationFrame returns {"type":"publication","channel":channel,"data":content},
// the frame a subscriber receives for a publication.
func publicationFrame(channel string, content []byte) []byte {
	frame := make([]byte, 0, len(channel)+len(content)+48)
	frame = append(frame, `{"type":"publication","channel":"`...)
	frame = append(frame, channel...)
	frame = append(frame, `","data":`...)
	frame = append(frame, content...)
	return append(frame, '}')
}
