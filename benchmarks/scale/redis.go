package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// redisSet is the Redis the nodes join: the URL they are given and the address of
// every master, which the benchmark asks for INFO (CPU time and command counts).
// Servers this program started are stopped by stop.
type redisSet struct {
	url       string
	addresses []string
	processes []*exec.Cmd
}

// startSingleRedis runs one redis-server without persistence on a free port.
func startSingleRedis() (*redisSet, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	set := &redisSet{url: "redis://127.0.0.1:" + port + "/0"}
	if err := set.startServer(port); err != nil {
		return nil, err
	}
	return set, nil
}

// startClusterRedis runs masters redis-servers with cluster mode on, each on a free
// port with its cluster state in directory, joins them with redis-cli --cluster
// create (no replicas) and waits until every master reports cluster_state:ok.
func startClusterRedis(masters int, directory string) (*redisSet, error) {
	set := &redisSet{}
	var seeds []string
	for range masters {
		port, err := freePort()
		if err != nil {
			set.stop()
			return nil, err
		}
		if err := set.startServer(port, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(directory, "nodes-"+port+".conf"), "--dir", directory); err != nil {
			set.stop()
			return nil, err
		}
		seeds = append(seeds, "127.0.0.1:"+port)
	}
	create := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, seeds...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	if output, err := create.CombinedOutput(); err != nil {
		set.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, output)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, address := range set.addresses {
		for {
			info, err := redisFields(address, "CLUSTER INFO")
			if err == nil && info["cluster_state"] == "ok" {
				break
			}
			if time.Now().After(deadline) {
				set.stop()
				return nil, fmt.Errorf("redis cluster at %s not ok within 30s", address)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	set.url = "redis+cluster://" + strings.Join(seeds, ",")
	return set, nil
}

// givenRedis is a Redis the caller runs: url is passed to the nodes as it is, and
// INFO is read from every host:port listed in it (list every master of a cluster).
func givenRedis(url string) (*redisSet, error) {
	_, rest, found := strings.Cut(url, "://")
	if !found {
		return nil, fmt.Errorf("-redis-url %q: want redis://host:port or redis+cluster://host:port,host:port", url)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	rest, _, _ = strings.Cut(rest, "/")
	rest, _, _ = strings.Cut(rest, "?")
	return &redisSet{url: url, addresses: strings.Split(rest, ",")}, nil
}

// startServer starts one redis-server on port with extra arguments and waits until
// it answers.
func (s *redisSet) startServer(port string, extra ...string) error {
	arguments := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--loglevel", "warning"}, extra...)
	command := exec.Command("redis-server", arguments...)
	dieWithUs(command)
	command.Stderr = os.Stderr
	if err := command.Start(); err != nil {
		return fmt.Errorf("start redis-server (make deps-redis installs it): %w", err)
	}
	s.processes = append(s.processes, command)
	address := "127.0.0.1:" + port
	s.addresses = append(s.addresses, address)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := redisInfo(address, "server"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer on %s", address)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cluster reports whether the set is a Redis Cluster (its URL says so).
func (s *redisSet) cluster() bool {
	return strings.HasPrefix(s.url, "redis+cluster://")
}

// owner returns the address of the master that owns channel's slot: the one that
// runs a sharded publication to it instead of answering MOVED.
func (s *redisSet) owner(channel string) (string, error) {
	for _, address := range s.addresses {
		host, port, _ := strings.Cut(address, ":")
		output, err := exec.Command("redis-cli", "-h", host, "-p", port, "SPUBLISH", channel, "probe").Output()
		if err == nil && !strings.Contains(string(output), "MOVED") && !strings.Contains(string(output), "ERR") {
			return address, nil
		}
	}
	return "", fmt.Errorf("no master of %v owns the slot of %s", s.addresses, channel)
}

// stop kills the servers this program started.
func (s *redisSet) stop() {
	for _, process := range s.processes {
		_ = process.Process.Kill()
		_ = process.Wait()
	}
}

// redisUsage is what the Redis servers of a set did, summed over them: processor
// seconds (INFO cpu, user plus system, every thread) and commands by name (INFO
// commandstats).
type redisUsage struct {
	cpuSeconds float64
	commands   map[string]int64
}

// usage reads the sum of every server's INFO cpu and commandstats.
func (s *redisSet) usage() (redisUsage, error) {
	total := redisUsage{commands: map[string]int64{}}
	for _, address := range s.addresses {
		cpu, err := redisInfo(address, "cpu")
		if err != nil {
			return total, err
		}
		for _, field := range []string{"used_cpu_user", "used_cpu_sys"} {
			seconds, _ := strconv.ParseFloat(cpu[field], 64)
			total.cpuSeconds += seconds
		}
		commands, err := redisInfo(address, "commandstats")
		if err != nil {
			return total, err
		}
		for key, value := range commands {
			// cmdstat_publish:calls=12,usec=34,...
			name, found := strings.CutPrefix(key, "cmdstat_")
			if !found {
				continue
			}
			calls, _, _ := strings.Cut(strings.TrimPrefix(value, "calls="), ",")
			count, _ := strconv.ParseInt(calls, 10, 64)
			total.commands[name] += count
		}
	}
	return total, nil
}

// since returns what the servers did between start and u. INFO itself counts as a
// command; the benchmark's own INFO calls (two per server per reading) are taken out.
func (u redisUsage) since(start redisUsage, servers int) redisUsage {
	delta := redisUsage{cpuSeconds: u.cpuSeconds - start.cpuSeconds, commands: map[string]int64{}}
	for name, count := range u.commands {
		if difference := count - start.commands[name]; difference > 0 {
			delta.commands[name] = difference
		}
	}
	delta.commands["info"] -= int64(2 * servers)
	if delta.commands["info"] <= 0 {
		delete(delta.commands, "info")
	}
	return delta
}

// total returns the number of commands of u.
func (u redisUsage) total() int64 {
	sum := int64(0)
	for _, count := range u.commands {
		sum += count
	}
	return sum
}

// redisInfo asks address for INFO section and returns its key:value lines.
func redisInfo(address, section string) (map[string]string, error) {
	return redisFields(address, "INFO "+section)
}

// redisFields sends command (an inline command whose answer is a bulk string of
// key:value lines, such as INFO or CLUSTER INFO) to address over a fresh connection
// and returns the lines.
func redisFields(address, command string) (map[string]string, error) {
	connection, err := net.DialTimeout("tcp", address, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer connection.Close()
	_ = connection.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(connection, "%s\r\n", command); err != nil {
		return nil, err
	}
	reader := bufio.NewReader(connection)
	header, err := reader.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(header, "$") {
		return nil, fmt.Errorf("%s at %s: %s", command, address, strings.TrimSpace(header))
	}
	length, err := strconv.Atoi(strings.TrimSpace(header[1:]))
	if err != nil {
		return nil, err
	}
	body := make([]byte, length+2)
	if _, err := io.ReadFull(reader, body); err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for line := range strings.Lines(string(body[:length])) {
		key, value, found := strings.Cut(strings.TrimSpace(line), ":")
		if found {
			fields[key] = value
		}
	}
	return fields, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer listener.Close()
	return strconv.Itoa(listener.Addr().(*net.TCPAddr).Port), nil
}
