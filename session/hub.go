package session

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/timerwheel"
)

// Hub is the registry of connections and users on this node, with limits, fan-out,
// the heartbeat and statistics. Its methods are the application's side: look up
// connections, deliver frames to them, read counts, shut down. The transport opens
// connections and feeds them frames through Transport (see NewTransport). All
// methods are safe for concurrent use.
type Hub struct {
	config     Config
	logger     *slog.Logger
	shards     []*shard
	shardMask  uint64
	hashSeed   maphash.Seed
	wheel      *timerwheel.Wheel
	closeGrace time.Duration
	started    time.Time
	// connectionTotal is the node-wide count, reserved before a shard insert so the
	// node cap holds without a global lock.
	connectionTotal atomic.Int64
	// liveSessions counts sessions whose socket is not closed yet, including those
	// closing or refused; Shutdown waits for it to reach zero.
	liveSessions atomic.Int64
	shuttingDown atomic.Bool
	// draining is set by Drain: new connections are refused, open ones closed in
	// batches (drain.go).
	draining atomic.Bool
	drain    drain
	// connects is the node's connect rate limit (Config.MaxConnectsPerSecond).
	connects  *connectLimiter
	counters  counters
	closeOnce sync.Once
	flushers  []*flusher
	// fanoutLog holds the copies of fan-out frames that queues share (fanoutlog.go).
	fanoutLog fanoutLog
}

// NewHub returns a running Hub for config (see Config.Validate); call Shutdown to
// close it.
func NewHub(config Config) (*Hub, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	config = config.withDefaults()
	wheel, err := timerwheel.New(timerwheel.Config{Tick: config.TimerTick})
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	hub := &Hub{
		config:     config,
		logger:     config.Logger,
		shards:     make([]*shard, config.Shards),
		shardMask:  uint64(config.Shards - 1),
		hashSeed:   maphash.MakeSeed(),
		wheel:      wheel,
		closeGrace: config.CloseGrace,
		started:    time.Now(),
		connects:   newConnectLimiter(config.MaxConnectsPerSecond),
	}
	for index := range hub.shards {
		hub.shards[index] = newShard(hub)
	}
	hub.startFlushers()
	wheel.Start()
	return hub, nil
}

// Config returns the effective configuration, defaults filled in.
func (h *Hub) Config() Config { return h.config }

// Wheel returns the hub's timer wheel, for other per-connection deadlines.
func (h *Hub) Wheel() *timerwheel.Wheel { return h.wheel }

// Started returns when the hub was created, with a monotonic clock reading:
// time.Since(Started()) is the node's uptime. Safe for concurrent use.
func (h *Hub) Started() time.Time { return h.started }

// clock returns nanoseconds since the hub started, on the monotonic clock.
func (h *Hub) clock() int64 { return int64(time.Since(h.started)) }

func (h *Hub) shardFor(userID string, id ConnectionID) *shard {
	var key uint64
	if userID != "" {
		key = maphash.String(h.hashSeed, userID)
	} else {
		key = maphash.Bytes(h.hashSeed, id[:])
	}
	return h.shards[key&h.shardMask]
}

// admit registers s and arms its timers (expiresAt zero: no expiry), or refuses it
// when a limit or the shutdown does; it reports whether s was registered.
func (h *Hub) admit(s *Session, expiresAt time.Time) bool {
	reason := ReasonShutdown
	if !h.shuttingDown.Load() && !h.draining.Load() {
		reason = h.register(s)
	}
	if reason != ReasonNone {
		h.refuse(s, reason)
		return false
	}
	h.counters.accepted.Add(1)
	// Its arguments (the id's text, the formatted address) cost allocations on every
	// connect: built only when the line is written.
	if h.logger.Enabled(context.Background(), slog.LevelDebug) {
		h.logger.Debug("connected", "connection_id", s.id.String(), "user_id", s.userID,
			"remote_addr", s.RemoteAddr())
	}
	h.armHeartbeat(s)
	h.armExpiry(s, expiresAt)
	return true
}

func (h *Hub) newSession(conn Conn, userID string) *Session {
	s := &Session{
		id:          NewTaggedConnectionID(h.config.NodeTag),
		userID:      userID,
		conn:        conn,
		connectedAt: time.Now().UnixNano(),
	}
	s.timer.Init(sessionTimerKind)
	s.shard = h.shardFor(userID, s.id)
	h.liveSessions.Add(1)
	return s
}

func (h *Hub) refuse(s *Session, reason CloseReason) {
	h.refuseWithCode(s, reason, reason.Code(), reason.Text())
}

// refuseWithCode is refuse with a close code and text of the caller's choosing.
func (h *Hub) refuseWithCode(s *Session, reason CloseReason, code uint16, text string) {
	s.state.CompareAndSwap(stateOpen, stateClosing|uint32(reason)<<8|refusedFlag)
	h.counters.refused[reason].Add(1)
	// A drain or a reconnect storm refuses thousands of clients a second, which are
	// told to come back: counted, but not worth a warning each.
	level := slog.LevelWarn
	if reason == ReasonShutdown || reason == ReasonConnectRate {
		level = slog.LevelDebug
	}
	h.logger.Log(context.Background(), level, "connection refused", "reason", reason.String(), "connection_id", s.id.String(),
		"user_id", s.userID, "remote_addr", s.RemoteAddr())
	s.writeCloseAndArmGrace(code, text)
}

// register inserts s under its shard lock unless a limit refuses it. In a cluster
// the user's cluster-wide count is taken first, with no lock held during the round
// trip, and given back if the node then refuses the connection.
func (h *Hub) register(s *Session) CloseReason {
	if limit := int64(h.config.MaxConnections); limit > 0 {
		for {
			current := h.connectionTotal.Load()
			if current >= limit {
				return ReasonOverload
			}
			if h.connectionTotal.CompareAndSwap(current, current+1) {
				break
			}
		}
	} else {
		h.connectionTotal.Add(1)
	}
	counted := h.config.Admission != nil && s.userID != ""
	if counted {
		allowed, err := h.config.Admission.Acquire(s.userID, max(h.config.MaxConnectionsPerUser, 0))
		if err != nil {
			h.logger.Debug("cluster admission unavailable, applying the node's limit", "user_id", s.userID,
				"error", err.Error())
		} else if !allowed {
			h.connectionTotal.Add(-1)
			return ReasonLimit
		}
	}
	sh := s.shard
	sh.mutex.Lock()
	if limit := h.config.MaxConnectionsPerUser; limit > 0 && s.userID != "" &&
		sh.userConnectionCountLocked(s.userID) >= limit {
		sh.mutex.Unlock()
		h.connectionTotal.Add(-1)
		if counted {
			h.config.Admission.Release(s.userID)
		}
		return ReasonLimit
	}
	sh.insertLocked(s)
	sh.mutex.Unlock()
	return ReasonNone
}

// unregister removes s from the registry if it is still there.
func (h *Hub) unregister(s *Session) {
	sh := s.shard
	sh.mutex.Lock()
	removed := sh.removeLocked(s)
	sh.mutex.Unlock()
	if !removed {
		return
	}
	h.connectionTotal.Add(-1)
	if h.config.Admission != nil && s.userID != "" {
		h.config.Admission.Release(s.userID)
	}
}

func (h *Hub) recordDisconnect(s *Session, reason CloseReason) {
	h.counters.disconnects[reason].Add(1)
	if h.logger.Enabled(context.Background(), slog.LevelDebug) {
		h.logger.Debug("disconnected", "connection_id", s.id.String(), "user_id", s.userID,
			"remote_addr", s.RemoteAddr(), "reason", reason.String())
	}
}

// Lookup returns the open session with id, or nil.
func (h *Hub) Lookup(id ConnectionID) *Session {
	for _, sh := range h.shards {
		sh.mutex.RLock()
		s := sh.findLocked(id)
		sh.mutex.RUnlock()
		if s != nil {
			return s
		}
	}
	return nil
}

// UserSessions returns a snapshot of userID's open sessions.
func (h *Hub) UserSessions(userID string) []*Session {
	sh := h.shardFor(userID, ConnectionID{})
	sh.mutex.RLock()
	defer sh.mutex.RUnlock()
	entry := sh.users[userID]
	if entry == nil {
		return nil
	}
	return append([]*Session(nil), entry.sessions...)
}

// UserConnectionCount returns the number of userID's open connections, in O(1)
// without allocating.
func (h *Hub) UserConnectionCount(userID string) int {
	sh := h.shardFor(userID, ConnectionID{})
	sh.mutex.RLock()
	defer sh.mutex.RUnlock()
	if entry := sh.users[userID]; entry != nil {
		return len(entry.sessions)
	}
	return 0
}

// ConnectionCount returns the number of open connections, in O(shards).
func (h *Hub) ConnectionCount() int {
	total := int64(0)
	for _, sh := range h.shards {
		total += sh.connectionCount.Load()
	}
	return int(total)
}

// UserCount returns the number of users with at least one open connection, in O(shards).
func (h *Hub) UserCount() int {
	total := int64(0)
	for _, sh := range h.shards {
		total += sh.userCount.Load()
	}
	return int(total)
}

// Shutdown closes every connection with ReasonShutdown (1001 "server shutting
// down"), waits until they are all gone or timeout passes, then stops the timer
// wheel and the fan-out workers. It returns the number of sockets still open at the
// end. Connections opened after Shutdown started are refused with ReasonShutdown. A
// drain still running is stopped, and what it had not closed yet is closed at once.
func (h *Hub) Shutdown(timeout time.Duration) int {
	h.shuttingDown.Store(true)
	h.stopDrain()
	for _, sh := range h.shards {
		sh.mutex.RLock()
		snapshot := append([]*Session(nil), sh.members...)
		sh.mutex.RUnlock()
		for _, s := range snapshot {
			s.Close(ReasonShutdown)
		}
	}
	deadline := time.Now().Add(timeout)
	for h.liveSessions.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.closeOnce.Do(func() {
		h.wheel.Stop()
		h.stopFlushers()
	})
	return int(h.liveSessions.Load())
}

// randomDuration returns a uniformly random duration in [0, limit).
func randomDuration(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(limit)))
}

func addressText(conn Conn) string {
	if address := conn.RemoteAddr(); address != nil {
		return address.String()
	}
	return ""
}
