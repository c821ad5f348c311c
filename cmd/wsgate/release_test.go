package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repositoryRoot is where the Makefile and the Dockerfile are, seen from this
// package's directory (go test runs in it).
const repositoryRoot = "../.."

// TestReleaseBinaryIsStaticAndCarriesItsVersion builds a binary the way make dist and
// the Docker image do (make release-binary) and checks what they rely on: it is
// statically linked, so it runs in a distroless or scratch image and on any Linux,
// and -version prints what the build was given.
func TestReleaseBinaryIsStaticAndCarriesItsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release binary (-short)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the binary as ELF: Linux only")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	binary := filepath.Join(t.TempDir(), "wsgate")
	build := exec.Command("make", "--no-print-directory", "-C", repositoryRoot, "release-binary", "OUT="+binary,
		"VERSION=v9.8.7-release-test", "COMMIT=0123456789abcdef", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make release-binary: %v\n%s", err, output)
	}
	file, err := elf.Open(binary)
	if err != nil {
		t.Fatalf("open the binary as ELF: %v", err)
	}
	defer file.Close()
	for _, program := range file.Progs {
		if program.Type == elf.PT_INTERP {
			t.Fatal("the release binary has a PT_INTERP header: it is dynamically linked and needs a libc at run time")
		}
	}
	if libraries, err := file.ImportedLibraries(); err != nil || len(libraries) > 0 {
		t.Fatalf("the release binary imports shared libraries %v (%v)", libraries, err)
	}
	output, err := exec.Command(binary, "-version").Output()
	want := "wsgate v9.8.7-release-test (commit 0123456789abcdef, " + runtime.Version() + ")\n"
	if err != nil || string(output) != want {
		t.Fatalf("-version: %v, printed %q; want %q", err, output, want)
	}
}

// TestEveryDistSystemBuilds cross-builds the release binary (make release-binary)
// for the first platform of each other operating system make dist lists
// (DIST_PLATFORMS in the Makefile): code that compiles on Linux only (a Linux-only
// syscall constant) failed make dist while every test passed. One architecture per
// system keeps it to one extra build of the standard library; the binary is not run.
func TestEveryDistSystemBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds release binaries (-short)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	makefile, err := os.ReadFile(filepath.Join(repositoryRoot, "Makefile"))
	if err != nil {
		t.Fatalf("read the Makefile: %v", err)
	}
	platforms := distPlatforms(string(makefile))
	if len(platforms) == 0 {
		t.Fatal("the Makefile sets no DIST_PLATFORMS")
	}
	built := map[string]bool{runtime.GOOS: true}
	for _, platform := range platforms {
		system, architecture, _ := strings.Cut(platform, "/")
		if built[system] {
			continue
		}
		built[system] = true
		build := exec.Command("make", "--no-print-directory", "-C", repositoryRoot, "release-binary",
			"OUT="+filepath.Join(t.TempDir(), "wsgate"), "GOOS="+system, "GOARCH="+architecture)
		if output, err := build.CombinedOutput(); err != nil {
			t.Errorf("make release-binary GOOS=%s GOARCH=%s: %v\n%s", system, architecture, err, output)
		}
	}
}

// distPlatforms returns the os/arch pairs of the Makefile's DIST_PLATFORMS line.
func distPlatforms(makefile string) []string {
	for line := range strings.Lines(makefile) {
		if name, value, found := strings.Cut(line, "?="); found && strings.TrimSpace(name) == "DIST_PLATFORMS" {
			return strings.Fields(value)
		}
	}
	return nil
}

// TestDockerImageBuildsAndRuns builds the image where a Docker daemon runs and its
// base images can be had, and runs -version and -healthcheck's failure in it;
// elsewhere it is skipped, and the image's correctness rests on the release binary
// test above (the image holds that same binary).
func TestDockerImageBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image (-short)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed")
	}
	if output, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon answers (docker info: %v): %s", err, lastLine(output))
	}
	dockerfile, err := os.ReadFile(filepath.Join(repositoryRoot, "Dockerfile"))
	if err != nil {
		t.Fatalf("read the Dockerfile: %v", err)
	}
	for _, image := range baseImages(string(dockerfile)) {
		if exec.Command("docker", "image", "inspect", image).Run() == nil {
			continue
		}
		if output, err := exec.Command("docker", "pull", image).CombinedOutput(); err != nil {
			t.Skipf("base image %s is not here and cannot be pulled (%v): %s", image, err, lastLine(output))
		}
	}
	const tag = "wsgate:release-test"
	build := exec.Command("docker", "build", "--build-arg", "VERSION=v9.8.7-docker-test", "--build-arg", "COMMIT=abc", "-t", tag, ".")
	build.Dir = repositoryRoot
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, output)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	output, err := exec.Command("docker", "run", "--rm", tag, "-version").Output()
	if err != nil || !strings.HasPrefix(string(output), "wsgate v9.8.7-docker-test (commit abc, ") {
		t.Fatalf("docker run %s -version: %v, printed %q", tag, err, output)
	}
	// Nothing listens in this container, so the health check must fail, and say why.
	output, err = exec.Command("docker", "run", "--rm", tag, "-healthcheck").CombinedOutput()
	if err == nil || !strings.Contains(string(output), "wsgate: -healthcheck: ") {
		t.Fatalf("docker run %s -healthcheck without a server: %v, printed %q; want a failure", tag, err, output)
	}
}

// baseImages returns the images the Dockerfile's FROM lines name.
func baseImages(dockerfile string) []string {
	var images []string
	for line := range strings.Lines(dockerfile) {
		if fields := strings.Fields(line); len(fields) >= 2 && strings.EqualFold(fields[0], "FROM") {
			images = append(images, fields[1])
		}
	}
	return images
}

// lastLine returns the last non-empty line of output, for a skip message.
func lastLine(output []byte) string {
	lines := strings.Split(strings.TrimSpace(string(output)), "\n")
	return lines[len(lines)-1]
}
