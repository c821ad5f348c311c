// Package redistest runs a private redis-server for tests: on a free loopback port,
// without persistence, killed and restarted on the same port to test outages, and
// stopped when the test ends.
package redistest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to answer PING after start.
const startTimeout = 10 * time.Second

// Server is one redis-server process. Its methods are not safe for concurrent use;
// call them from the test's goroutine.
type Server struct {
	t         testing.TB
	binary    string
	port      int
	arguments []string
	logPath   string
	command   *exec.Cmd
}

// Start runs redis-server on a free loopback port and stops it when the test ends;
// arguments are extra redis-server options, e.g. "--requirepass", "secret" (then
// PING is answered with NOAUTH, which counts as up). Without redis-server installed the test is skipped, unless the CI variable is set:
// then it fails, so a CI run cannot pass without the Redis tests (make deps-redis
// installs it).
func Start(t testing.TB, arguments ...string) *Server {
	t.Helper()
	binary, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed (CI is set, so this fails instead of skipping): run make deps-redis")
		}
		t.Skip("redis-server is not installed: run make deps-redis")
	}
	s := &Server{t: t, binary: binary, port: freePort(t), arguments: arguments, logPath: filepath.Join(t.TempDir(), "redis.log")}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// freePort returns a loopback TCP port that nothing listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port
}

// URL returns the server's address as a redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr returns the server's "host:port".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Kill ends the server at once with SIGKILL, as a crash would; every client
// connection breaks. It does nothing when the server is not running.
func (s *Server) Kill() {
	if s.command == nil {
		return
	}
	_ = s.command.Process.Kill()
	_ = s.command.Wait()
	s.command = nil
}

// Restart starts the server again on the same port, empty, and waits until it
// answers PING. It fails the test if the server does not come up in time.
func (s *Server) Restart() {
	s.t.Helper()
	if s.command != nil {
		s.t.Fatalf("redistest: Restart while the server is running")
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	defer logFile.Close()
	command := exec.Command(s.binary, append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}, s.arguments...)...)
	command.Stdout, command.Stderr = logFile, logFile
	if err := command.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.command = command
	deadline := time.Now().Add(startTimeout)
	for !s.answers() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.logPath)
			s.Kill()
			s.t.Fatalf("redistest: redis-server did not answer within %v; its log:\n%s", startTimeout, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answers reports whether the server answers PING, with PONG or, when it requires a
// password, with NOAUTH.
func (s *Server) answers() bool {
	connection, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer connection.Close()
	_ = connection.SetDeadline(time.Now().Add(time.Second))
	if _, err := connection.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(connection).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}
