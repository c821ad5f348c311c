package main

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// connectionInfo is the seed's ConnectionInfo model.
type connectionInfo struct {
	ConnectionID string
	UserID       string
	ConnectedAt  time.Time
	LastPing     time.Time
	IsAlive      bool
}

// socket is one accepted WebSocket. gorilla/websocket allows one writer at a time,
// which the seed got for free from asyncio's single thread; writeMutex is the
// smallest change that keeps the port correct under goroutines.
type socket struct {
	conn       *websocket.Conn
	writeMutex sync.Mutex
}

// sendJSON encodes message and writes it, as Starlette's send_json does: every
// recipient pays its own encoding.
func (s *socket) sendJSON(message any) error {
	payload, err := json.Marshal(message)
	if err != nil {
		return err
	}
	s.writeMutex.Lock()
	defer s.writeMutex.Unlock()
	return s.conn.WriteMessage(websocket.TextMessage, payload)
}

// envelope is {"type":...,"content":...} with the seed's key order.
type envelope struct {
	Type    string `json:"type"`
	Content any    `json:"content"`
}

// typeOnly is {"type":...}, the seed's ping.
type typeOnly struct {
	Type string `json:"type"`
}

// manager is the seed's WebSocketManager: three maps behind one mutex, a
// per-user limit checked before the accept, sequential sends, and a heartbeat loop
// that walks every connection each interval.
type manager struct {
	mutex             sync.Mutex
	activeConnections map[string]*socket
	connectionInfo    map[string]*connectionInfo
	userConnections   map[string]map[string]struct{}

	pingInterval          time.Duration
	pingTimeout           time.Duration
	maxConnectionsPerUser int
	heartbeatStarted      bool
	logger                *slog.Logger
}

func newManager(pingInterval, pingTimeout time.Duration, maxConnectionsPerUser int, logger *slog.Logger) *manager {
	return &manager{
		activeConnections:     make(map[string]*socket),
		connectionInfo:        make(map[string]*connectionInfo),
		userConnections:       make(map[string]map[string]struct{}),
		pingInterval:          pingInterval,
		pingTimeout:           pingTimeout,
		maxConnectionsPerUser: maxConnectionsPerUser,
		logger:                logger,
	}
}

// overLimit is the seed's check, made before the accept; like the seed it is not
// atomic with the registration that follows the accept.
func (m *manager) overLimit(userID string) bool {
	if userID == "" {
		return false
	}
	m.mutex.Lock()
	defer m.mutex.Unlock()
	return len(m.userConnections[userID]) >= m.maxConnectionsPerUser
}

// register records an accepted connection and starts the heartbeat on the first one.
func (m *manager) register(connectionID, userID string, s *socket) {
	now := time.Now()
	m.mutex.Lock()
	m.activeConnections[connectionID] = s
	m.connectionInfo[connectionID] = &connectionInfo{
		ConnectionID: connectionID, UserID: userID, ConnectedAt: now, LastPing: now, IsAlive: true,
	}
	if userID != "" {
		if m.userConnections[userID] == nil {
			m.userConnections[userID] = make(map[string]struct{})
		}
		m.userConnections[userID][connectionID] = struct{}{}
	}
	startHeartbeat := !m.heartbeatStarted && m.pingInterval > 0
	m.heartbeatStarted = m.heartbeatStarted || startHeartbeat
	m.mutex.Unlock()
	m.logger.Info("WebSocket connected: "+connectionID, "connection_id", connectionID, "user_id", userID)
	if startHeartbeat {
		go m.heartbeatLoop()
	}
}

// disconnect forgets a connection. Like the seed it does not close the socket.
func (m *manager) disconnect(connectionID string) {
	m.mutex.Lock()
	if _, found := m.activeConnections[connectionID]; !found {
		m.mutex.Unlock()
		return
	}
	if info := m.connectionInfo[connectionID]; info != nil && info.UserID != "" {
		if connections, found := m.userConnections[info.UserID]; found {
			delete(connections, connectionID)
			if len(connections) == 0 {
				delete(m.userConnections, info.UserID)
			}
		}
	}
	delete(m.activeConnections, connectionID)
	delete(m.connectionInfo, connectionID)
	m.mutex.Unlock()
	m.logger.Info("WebSocket disconnected: "+connectionID, "connection_id", connectionID)
}

// sendMessage writes message to one connection; a failed write disconnects it.
func (m *manager) sendMessage(connectionID string, message any) {
	m.mutex.Lock()
	s, found := m.activeConnections[connectionID]
	m.mutex.Unlock()
	if !found {
		m.logger.Warn("Connection not found: " + connectionID)
		return
	}
	if err := s.sendJSON(message); err != nil {
		m.logger.Error("Error sending message: " + err.Error())
		m.disconnect(connectionID)
	}
}

// broadcast sends message to every connection but those excluded, one after the
// other, and returns how many it tried.
func (m *manager) broadcast(message any, exclude string) int {
	m.mutex.Lock()
	connectionIDs := make([]string, 0, len(m.activeConnections))
	for connectionID := range m.activeConnections {
		connectionIDs = append(connectionIDs, connectionID)
	}
	m.mutex.Unlock()
	count := 0
	for _, connectionID := range connectionIDs {
		if connectionID != exclude {
			m.sendMessage(connectionID, message)
			count++
		}
	}
	return count
}

// touch is the seed's pong handling: it moves last_ping forward.
func (m *manager) touch(connectionID string) {
	m.mutex.Lock()
	if info := m.connectionInfo[connectionID]; info != nil {
		info.LastPing = time.Now()
	}
	m.mutex.Unlock()
}

// heartbeatLoop sleeps an interval, then pings every connection; it runs for the
// life of the process, as the seed's task does.
func (m *manager) heartbeatLoop() {
	for {
		time.Sleep(m.pingInterval)
		m.sendPings()
	}
}

// sendPings is the seed's _send_pings: a connection whose last_ping is older than
// twice the ping timeout is dropped, every other one gets {"type":"ping"}, one
// after the other, and its last_ping is set to now whether or not it answers.
func (m *manager) sendPings() {
	now := time.Now()
	type entry struct {
		connectionID string
		socket       *socket
	}
	m.mutex.Lock()
	entries := make([]entry, 0, len(m.activeConnections))
	for connectionID, s := range m.activeConnections {
		entries = append(entries, entry{connectionID, s})
	}
	m.mutex.Unlock()
	var dead []string
	for _, e := range entries {
		m.mutex.Lock()
		info := m.connectionInfo[e.connectionID]
		stale := info != nil && now.Sub(info.LastPing) > 2*m.pingTimeout
		m.mutex.Unlock()
		if info == nil {
			continue
		}
		if stale {
			dead = append(dead, e.connectionID)
			continue
		}
		if err := e.socket.sendJSON(typeOnly{Type: "ping"}); err != nil {
			m.logger.Error("Ping failed for " + e.connectionID + ": " + err.Error())
			dead = append(dead, e.connectionID)
			continue
		}
		m.mutex.Lock()
		info.LastPing = now
		m.mutex.Unlock()
	}
	for _, connectionID := range dead {
		m.disconnect(connectionID)
	}
}

// stats is the seed's get_stats.
func (m *manager) stats() map[string]any {
	m.mutex.Lock()
	defer m.mutex.Unlock()
	byUser := make(map[string]int, len(m.userConnections))
	for userID, connections := range m.userConnections {
		byUser[userID] = len(connections)
	}
	return map[string]any{
		"total_connections":   len(m.activeConnections),
		"total_users":         len(m.userConnections),
		"connections_by_user": byUser,
	}
}
