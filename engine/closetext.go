package engine

import (
	"errors"

	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wsgate/wsgate/session"
)

// nbio closes a connection whose message exceeds the size limit itself, with 1009
// and its error's text as the reason ("message exceeds the configured limit" in
// v1.6.8), before the hub hears of it. Giving that error the documented text makes
// the close frame say what docs/protocol.md says for 1009. nbio compares the error
// by identity, so it must be replaced before any connection exists: at package
// initialisation.
func init() {
	websocket.ErrMessageTooLarge = errors.New(session.ReasonTooBig.Text())
}
