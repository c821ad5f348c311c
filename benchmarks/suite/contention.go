package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/stat and /proc/PID/stat.
const clockTicks = 100

// machineBusySeconds returns the processor time the whole machine has spent busy
// (every state of the "cpu" line of /proc/stat but idle and iowait), or -1.
func machineBusySeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return -1
	}
	busy := 0.0
	for index, field := range fields[1:8] {
		if index == 3 || index == 4 { // idle, iowait
			continue
		}
		ticks, _ := strconv.ParseFloat(field, 64)
		busy += ticks
	}
	return busy / clockTicks
}

// processSeconds returns a process's processor time so far, user plus system, or 0.
func processSeconds(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseFloat(fields[11], 64)
	system, _ := strconv.ParseFloat(fields[12], 64)
	return (user + system) / clockTicks
}
