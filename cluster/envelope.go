package cluster

import (
	"encoding/binary"
	"errors"

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
type envelope struct {
	kind       kind
	origin     session.NodeTag
	exclude    []session.ConnectionID
	userID     string
	connection session.ConnectionID
	// body is the JSON payload, or the close reason text of a kick.
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
)

const (
	envelopeVersion    = 1
	envelopeHeaderSize = 2 + session.NodeTagSize
	connectionIDSize   = len(session.ConnectionID{})
	lengthSize         = 4
)

// errMalformed is returned by decodeEnvelope for bytes no node wrote.
var errMalformed = errors.New("cluster: malformed envelope")

// encode appends the envelope to buffer. The API's request size limit keeps user
// ids and exclude lists far below the uint32 lengths.
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
		buffer = binary.BigEndian.AppendUint32(buffer, uint32(len(e.userID)))
		buffer = append(buffer, e.userID...)
	case kindConnection, kindKickConnection:
		buffer = append(buffer, e.connection[:]...)
	}
	return append(buffer, e.body...)
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
		if len(rest) < lengthSize {
			return e, errMalformed
		}
		length := int(binary.BigEndian.Uint32(rest))
		rest = rest[lengthSize:]
		if length > len(rest) {
			return e, errMalformed
		}
		e.userID = string(rest[:length])
		rest = rest[length:]
	case kindConnection, kindKickConnection:
		if len(rest) < connectionIDSize {
			return e, errMalformed
		}
		copy(e.connection[:], rest)
		rest = rest[connectionIDSize:]
	default:
		return e, errMalformed
	}
	e.body = rest
	return e, nil
}
