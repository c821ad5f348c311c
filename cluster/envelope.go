package cluster

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/wsgate/wsgate/session"
)

// An envelope is one message between nodes, published on a Redis channel. It carries
// the raw JSON payload, never a WebSocket frame: each receiving node encodes the frame
// once for all its connections. The layout is binary and versioned:
//
//	byte 0      version (1)
//	byte 1      kind
//	bytes 2-7   origin node tag
//	then, by kind:
//	  broadcast        uint32 count, count x 16-byte excluded connection ids, payload
//	  user, kick user  uint32 length, user id, payload (kick: close reason text)
//	  connection, kick 16-byte connection id, payload (kick: close reason text)
//	  channel          uint32 length, channel name, payload
//	  user subscription
//	                   uint32 length, user id, uint32 length, channel name,
//	                   byte subscribe (1) or unsubscribe (0), reason text
//	  connection subscription
//	                   16-byte connection id, uint32 length, channel name,
//	                   byte subscribe (1) or unsubscribe (0), reason text
//	  history publication
//	                   uint32 length, channel name, byte length, offset in
//	                   decimal, byte length, epoch, data as published (not the
//	                   publication message: each node adds the offset when it
//	                   builds the message)
//
// A history publication's position is only known inside Redis: the node encodes
// everything up to the channel name (historyPrefix) and historyAppendScript appends
// the position and the data.
//
// A channel publication names its channel itself, so a receiver never parses the
// Redis channel's name.
type envelope struct {
	kind       kind
	origin     session.NodeTag
	exclude    []session.ConnectionID
	userID     string
	connection session.ConnectionID
	channel    string
	// query identifies a channel query among its origin's; limit is a listing
	// query's limit, 0 for a query of the one channel named by channel (a listing's
	// prefix otherwise).
	query uint64
	limit uint32
	// subscribe says whether a subscription change subscribes (true) or unsubscribes.
	subscribe bool
	// offset and epoch are a history publication's position.
	offset uint64
	epoch  string
	// body is the JSON payload, the close reason text of a kick, or the reason text
	// of a subscription change.
	body []byte
}

// kind says what an envelope asks the receiving node to do.
type kind byte

// The kinds of envelope.
const (
	kindBroadcast kind = iota + 1
	kindUser
	kindConnection
	kindKickConnection
	kindKickUser
	kindChannel
	kindUserSubscription
	kindConnectionSubscription
	kindChannelQuery
	kindQueryReply
	kindHistoryPublication
)

const (
	envelopeVersion    = 1
	envelopeHeaderSize = 2 + session.NodeTagSize
	connectionIDSize   = len(session.ConnectionID{})
	lengthSize         = 4
	queryIDSize        = 8
)

// errMalformed is returned by decodeEnvelope for bytes no node wrote.
var errMalformed = errors.New("cluster: malformed envelope")

// encode appends the envelope to buffer. The API's request size limit and the
// channel name limit keep user ids, channel names and exclude lists far below the
// uint32 lengths.
func (e *envelope) encode(buffer []byte) []byte {
	buffer = append(buffer, envelopeVersion, byte(e.kind))
	buffer = append(buffer, e.origin[:]...)
	switch e.kind {
	case kindBroadcast:
		buffer = binary.BigEndian.AppendUint32(buffer, uint32(len(e.exclude)))
		for _, id := range e.exclude {
			buffer = append(buffer, id[:]...)
		}
	case kindUser, kindKickUser:
		buffer = appendText(buffer, e.userID)
	case kindConnection, kindKickConnection:
		buffer = append(buffer, e.connection[:]...)
	case kindChannel:
		buffer = appendText(buffer, e.channel)
	case kindUserSubscription:
		buffer = appendText(buffer, e.userID)
		buffer = appendSubscription(buffer, e.channel, e.subscribe)
	case kindConnectionSubscription:
		buffer = append(buffer, e.connection[:]...)
		buffer = appendSubscription(buffer, e.channel, e.subscribe)
	case kindChannelQuery:
		buffer = binary.BigEndian.AppendUint64(buffer, e.query)
		buffer = binary.BigEndian.AppendUint32(buffer, e.limit)
		buffer = appendText(buffer, e.channel)
	case kindQueryReply:
		buffer = binary.BigEndian.AppendUint64(buffer, e.query)
	case kindHistoryPublication:
		buffer = appendText(buffer, e.channel)
		buffer = appendShortText(buffer, strconv.FormatUint(e.offset, 10))
		buffer = appendShortText(buffer, e.epoch)
	}
	return append(buffer, e.body...)
}

// historyPrefix returns the start of a history publication's encoding, up to its
// position, which historyAppendScript appends in Redis with the data.
func (e *envelope) historyPrefix() []byte {
	buffer := make([]byte, 0, envelopeHeaderSize+lengthSize+len(e.channel))
	buffer = append(buffer, envelopeVersion, byte(kindHistoryPublication))
	buffer = append(buffer, e.origin[:]...)
	return appendText(buffer, e.channel)
}

// appendShortText appends text of at most 255 bytes with its length in one byte
// before it (what Lua's string.char writes in historyAppendScript).
func appendShortText(buffer []byte, text string) []byte {
	buffer = append(buffer, byte(len(text)))
	return append(buffer, text...)
}

// readShortText reads what appendShortText wrote and returns the rest of data.
func readShortText(data []byte) (string, []byte, error) {
	if len(data) < 1 || int(data[0]) > len(data)-1 {
		return "", nil, errMalformed
	}
	length := int(data[0])
	return string(data[1 : 1+length]), data[1+length:], nil
}

// appendText appends text with its uint32 length before it.
func appendText(buffer []byte, text string) []byte {
	buffer = binary.BigEndian.AppendUint32(buffer, uint32(len(text)))
	return append(buffer, text...)
}

// appendSubscription appends a subscription change's channel and direction.
func appendSubscription(buffer []byte, channel string, subscribe bool) []byte {
	buffer = appendText(buffer, channel)
	if subscribe {
		return append(buffer, 1)
	}
	return append(buffer, 0)
}

// readText reads what appendText wrote and returns the rest of data.
func readText(data []byte) (string, []byte, error) {
	if len(data) < lengthSize {
		return "", nil, errMalformed
	}
	length := int(binary.BigEndian.Uint32(data))
	data = data[lengthSize:]
	if length > len(data) {
		return "", nil, errMalformed
	}
	return string(data[:length]), data[length:], nil
}

// readSubscription reads what appendSubscription wrote and returns the rest of data.
func readSubscription(data []byte) (channel string, subscribe bool, rest []byte, err error) {
	channel, data, err = readText(data)
	if err != nil {
		return "", false, nil, err
	}
	if len(data) < 1 || data[0] > 1 {
		return "", false, nil, errMalformed
	}
	return channel, data[0] == 1, data[1:], nil
}

// decodeEnvelope parses data; the envelope's body and exclude list share data's
// memory.
func decodeEnvelope(data []byte) (envelope, error) {
	var e envelope
	if len(data) < envelopeHeaderSize || data[0] != envelopeVersion {
		return e, errMalformed
	}
	e.kind = kind(data[1])
	copy(e.origin[:], data[2:envelopeHeaderSize])
	rest := data[envelopeHeaderSize:]
	var err error
	switch e.kind {
	case kindBroadcast:
		if len(rest) < lengthSize {
			return e, errMalformed
		}
		count := int(binary.BigEndian.Uint32(rest))
		rest = rest[lengthSize:]
		if count > len(rest)/connectionIDSize {
			return e, errMalformed
		}
		e.exclude = make([]session.ConnectionID, count)
		for index := range e.exclude {
			copy(e.exclude[index][:], rest[index*connectionIDSize:])
		}
		rest = rest[count*connectionIDSize:]
	case kindUser, kindKickUser:
		if e.userID, rest, err = readText(rest); err != nil {
			return e, err
		}
	case kindConnection, kindKickConnection:
		if len(rest) < connectionIDSize {
			return e, errMalformed
		}
		copy(e.connection[:], rest)
		rest = rest[connectionIDSize:]
	case kindChannel:
		if e.channel, rest, err = readText(rest); err != nil {
			return e, err
		}
	case kindUserSubscription:
		if e.userID, rest, err = readText(rest); err != nil {
			return e, err
		}
		if e.channel, e.subscribe, rest, err = readSubscription(rest); err != nil {
			return e, err
		}
	case kindConnectionSubscription:
		if len(rest) < connectionIDSize {
			return e, errMalformed
		}
		copy(e.connection[:], rest)
		if e.channel, e.subscribe, rest, err = readSubscription(rest[connectionIDSize:]); err != nil {
			return e, err
		}
	case kindChannelQuery:
		if len(rest) < queryIDSize+lengthSize {
			return e, errMalformed
		}
		e.query = binary.BigEndian.Uint64(rest)
		e.limit = binary.BigEndian.Uint32(rest[queryIDSize:])
		if e.channel, rest, err = readText(rest[queryIDSize+lengthSize:]); err != nil {
			return e, err
		}
	case kindQueryReply:
		if len(rest) < queryIDSize {
			return e, errMalformed
		}
		e.query = binary.BigEndian.Uint64(rest)
		rest = rest[queryIDSize:]
	case kindHistoryPublication:
		if rest, err = e.decodeHistory(rest); err != nil {
			return e, err
		}
	default:
		return e, errMalformed
	}
	e.body = rest
	return e, nil
}

// decodeHistory reads a history publication's fields after the header and returns
// its data.
func (e *envelope) decodeHistory(rest []byte) ([]byte, error) {
	var err error
	if e.channel, rest, err = readText(rest); err != nil {
		return nil, err
	}
	var offset string
	if offset, rest, err = readShortText(rest); err != nil {
		return nil, err
	}
	if e.offset, err = strconv.ParseUint(offset, 10, 64); err != nil || e.offset == 0 {
		return nil, errMalformed
	}
	if e.epoch, rest, err = readShortText(rest); err != nil {
		return nil, err
	}
	return rest, nil
}
