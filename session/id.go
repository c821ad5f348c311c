package session

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// ConnectionID identifies one connection: 128 random bits, so ids cannot be guessed
// by other clients. Kept as an array (not a string) so the registry map key costs
// 16 bytes and no pointer for the garbage collector to scan at 1M connections.
type ConnectionID [16]byte

// NewConnectionID returns a random version-4 UUID. Safe for concurrent use.
func NewConnectionID() ConnectionID {
	var id ConnectionID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never returns an error since Go 1.24
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// String formats the id as UUID text, e.g. "3f2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6f".
func (id ConnectionID) String() string {
	return string(id.AppendText(make([]byte, 0, 36)))
}

// AppendText appends the UUID text form to buffer without allocating beyond it.
func (id ConnectionID) AppendText(buffer []byte) []byte {
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	text[8] = '-'
	hex.Encode(text[9:13], id[4:6])
	text[13] = '-'
	hex.Encode(text[14:18], id[6:8])
	text[18] = '-'
	hex.Encode(text[19:23], id[8:10])
	text[23] = '-'
	hex.Encode(text[24:], id[10:])
	return append(buffer, text[:]...)
}

// ErrBadConnectionID is returned by ParseConnectionID for text that is not a UUID.
var ErrBadConnectionID = errors.New("connection id is not a UUID")

// ParseConnectionID parses the UUID text form produced by String.
func ParseConnectionID(text string) (ConnectionID, error) {
	var id ConnectionID
	if len(text) != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-' {
		return id, ErrBadConnectionID
	}
	compact := text[0:8] + text[9:13] + text[14:18] + text[19:23] + text[24:]
	if _, err := hex.Decode(id[:], []byte(compact)); err != nil {
		return id, ErrBadConnectionID
	}
	return id, nil
}

// NodeTagSize is how many leading bytes of a connection id name the node that issued
// it when the hub runs in a cluster (Config.NodeTag): 6 bytes, 48 bits.
const NodeTagSize = 6

// NodeTag names a node of a cluster inside the ids of its connections, so that a
// message for a connection is routed to its node without a lookup. The zero NodeTag
// means "not in a cluster".
type NodeTag [NodeTagSize]byte

// NewTaggedConnectionID returns a version-4 UUID that starts with tag; the other 74
// bits are random, so ids stay unguessable and unique (two nodes never share a tag's
// ids, one node repeats an id with probability 2^-74 per pair). The zero tag gives
// NewConnectionID's fully random id. Safe for concurrent use.
func NewTaggedConnectionID(tag NodeTag) ConnectionID {
	id := NewConnectionID()
	if tag != (NodeTag{}) {
		copy(id[:NodeTagSize], tag[:])
	}
	return id
}

// NodeTag returns the id's first NodeTagSize bytes: the tag of the node that issued
// it, when it was issued in a cluster.
func (id ConnectionID) NodeTag() NodeTag {
	var tag NodeTag
	copy(tag[:], id[:NodeTagSize])
	return tag
}
