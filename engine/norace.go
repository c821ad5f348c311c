//go:build !race

package engine

import "github.com/lesismal/nbio"

// publishToPollers and observeHandoffs order nbio's accept-to-poller handoff for the
// race detector; see race.go. Without -race they do nothing.
func publishToPollers() {}

func observeHandoffs(*nbio.Engine) {}
