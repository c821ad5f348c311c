package result

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// Machine describes the computer a run was made on.
type Machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"model"`
	Kernel string `json:"kernel"`
	Memory string `json:"memory"`
}

// ThisMachine reads the machine's processors, model name, kernel release and memory
// from /proc; a field it cannot read is left empty.
func ThisMachine() Machine {
	machine := Machine{CPUs: runtime.NumCPU(), Model: procField("/proc/cpuinfo", "model name")}
	if release, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		machine.Kernel = strings.TrimSpace(string(release))
	}
	machine.Memory = procField("/proc/meminfo", "MemTotal")
	if count := countProcessors(); count > 0 {
		machine.CPUs = count
	}
	return machine
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	file, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		key, value, found := strings.Cut(scanner.Text(), ":")
		if found && strings.TrimSpace(key) == name {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// countProcessors counts the processors in /proc/cpuinfo, which unlike
// runtime.NumCPU does not shrink when the process is pinned to fewer cores.
func countProcessors() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	count := 0
	for line := range strings.Lines(string(data)) {
		if key, _, found := strings.Cut(line, ":"); found && strings.TrimSpace(key) == "processor" {
			count++
		}
	}
	return count
}
