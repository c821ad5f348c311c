//go:build !linux

package engine

import (
	"errors"
	"net"
)

// newRawListener is Linux only (see accept_linux.go): elsewhere the server accepts
// through Go's net.Listener.
func newRawListener(*net.TCPListener, bool) (net.Listener, error) {
	return nil, errors.ErrUnsupported
}
