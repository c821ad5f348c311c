package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteCallsCountsTheServersWrites(t *testing.T) {
	p := newProbe(os.Getpid(), "", "", "")
	before, ok := p.writeCalls()
	if !ok {
		t.Fatal("no syscw in /proc/self/io")
	}
	file, err := os.Create(filepath.Join(t.TempDir(), "writes"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for range 10 {
		if _, err := file.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := p.writeCalls(); after-before < 10 {
		t.Fatalf("%d write calls counted for 10 writes", after-before)
	}
	if _, ok := newProbe(0, "", "", "").writeCalls(); ok {
		t.Fatal("a probe without a pid read write calls")
	}
}
