package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsgate/wsgate/internal/tcpproxy"
)

// Timing of the vanishing connections: each cohort's connections are dialed through
// a proxy of their own for cohortPeriod; sealGrace later, when every dial of the
// cohort has been answered (or has timed out), the proxy freezes (no byte passes
// either way, no socket closes: to the server the clients vanished without a trace)
// and it is only closed vanishHold after that, when the server's heartbeat should
// have given up on every one of them. The period is prime to the soak's 10 s
// sampling, so samples see every phase of the cohorts.
const (
	cohortPeriod = 7 * time.Second
	sealGrace    = answerTimeout + time.Second
	vanishHold   = 40 * time.Second
)

// vanishing rotates the cohorts of vanishing connections. Safe for concurrent use.
type vanishing struct {
	target string

	mutex  sync.Mutex
	open   *cohort
	sealed []*cohort
	frozen []*cohort
	stop   chan struct{}
	done   sync.WaitGroup
}

// cohort is one proxy and the client sides of the connections that vanished through
// it, which stay open until the proxy closes (a closed client socket would reach
// the server as a FIN once the proxy thawed).
type cohort struct {
	proxy    *tcpproxy.Proxy
	sealedAt time.Time
	frozenAt time.Time

	mutex   sync.Mutex
	clients []*websocket.Conn
	closed  bool
}

// newVanishing starts the first cohort's proxy to target and the rotation.
func newVanishing(target string) *vanishing {
	v := &vanishing{target: target, stop: make(chan struct{})}
	v.open = v.startCohort()
	v.done.Go(v.rotate)
	return v
}

// startCohort starts a proxy; nil when it cannot listen.
func (v *vanishing) startCohort() *cohort {
	proxy, err := tcpproxy.Start(v.target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: churn: proxy:", err)
		return nil
	}
	return &cohort{proxy: proxy}
}

// current returns the cohort that takes new connections.
func (v *vanishing) current() *cohort {
	v.mutex.Lock()
	defer v.mutex.Unlock()
	return v.open
}

// rotate seals the open cohort every cohortPeriod behind a fresh one, freezes the
// cohorts sealed for sealGrace, and closes those frozen for vanishHold.
func (v *vanishing) rotate() {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	opened := time.Now()
	for {
		select {
		case <-v.stop:
			return
		case now := <-ticker.C:
			var next *cohort
			if now.Sub(opened) >= cohortPeriod {
				next, opened = v.startCohort(), now
			}
			v.mutex.Lock()
			if next != nil {
				if v.open != nil {
					v.open.sealedAt = now
					v.sealed = append(v.sealed, v.open)
				}
				v.open = next
			}
			for len(v.sealed) > 0 && now.Sub(v.sealed[0].sealedAt) >= sealGrace {
				v.sealed[0].proxy.Freeze()
				v.sealed[0].frozenAt = now
				v.frozen = append(v.frozen, v.sealed[0])
				v.sealed = v.sealed[1:]
			}
			var expired []*cohort
			for len(v.frozen) > 0 && now.Sub(v.frozen[0].frozenAt) >= vanishHold {
				expired = append(expired, v.frozen[0])
				v.frozen = v.frozen[1:]
			}
			v.mutex.Unlock()
			for _, old := range expired {
				old.close()
			}
		}
	}
}

// close stops the rotation and closes every cohort.
func (v *vanishing) close() {
	close(v.stop)
	v.done.Wait()
	v.mutex.Lock()
	cohorts := append(append(v.frozen, v.sealed...), v.open)
	v.frozen, v.sealed, v.open = nil, nil, nil
	v.mutex.Unlock()
	for _, old := range cohorts {
		if old != nil {
			old.close()
		}
	}
}

// keep holds conn's client side until the cohort closes; after that it closes conn
// at once.
func (c *cohort) keep(conn *websocket.Conn) {
	c.mutex.Lock()
	closed := c.closed
	if !closed {
		c.clients = append(c.clients, conn)
	}
	c.mutex.Unlock()
	if closed {
		_ = conn.UnderlyingConn().Close()
	}
}

// close closes the proxy (both sides of every connection through it) and the
// client sides it held.
func (c *cohort) close() {
	c.mutex.Lock()
	c.closed = true
	clients := c.clients
	c.clients = nil
	c.mutex.Unlock()
	_ = c.proxy.Close()
	for _, conn := range clients {
		_ = conn.UnderlyingConn().Close()
	}
}
