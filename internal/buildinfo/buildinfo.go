// Package buildinfo says which build of wsgate is running: its version, the commit
// it was built from and the Go version that built it, for `wsgate -version`,
// /healthz and the wsgate_build_info metric.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// version and commit are set at build time (make build, make dist):
//
//	go build -ldflags "-X github.com/wsgate/wsgate/internal/buildinfo.version=v1.2.0 \
//	  -X github.com/wsgate/wsgate/internal/buildinfo.commit=<full hash>"
var (
	version string
	commit  string
)

// UnknownVersion and UnknownCommit stand for what a build did not record: a plain go
// build outside a git checkout, or a test binary.
const (
	UnknownVersion = "dev"
	UnknownCommit  = "unknown"
)

// Info identifies a build.
type Info struct {
	// Version is the release (v1.2.0, or git describe output such as
	// v1.2.0-3-gabc1234-dirty), set at build time; else the module version of a
	// `go install ...@version`; else "dev".
	Version string
	// Commit is the commit hash set at build time; else the one the go command
	// recorded from the git checkout (with "-dirty" when it had local changes);
	// else "unknown".
	Commit string
	// GoVersion is the Go release that built the binary, e.g. "go1.26.8".
	GoVersion string
}

// Get returns the running build's Info. It is computed once; safe for concurrent
// use.
var Get = sync.OnceValue(func() Info { return resolve(version, commit, debug.ReadBuildInfo) })

// resolve fills Info from the values set at build time, falling back to what the go
// command recorded in the binary.
func resolve(setVersion, setCommit string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: setVersion, Commit: setCommit, GoVersion: runtime.Version()}
	recorded, found := read()
	if found {
		if info.Version == "" && recorded.Main.Version != "" && recorded.Main.Version != "(devel)" {
			info.Version = recorded.Main.Version
		}
		if info.Commit == "" {
			info.Commit = recordedCommit(recorded.Settings)
		}
	}
	if info.Version == "" {
		info.Version = UnknownVersion
	}
	if info.Commit == "" {
		info.Commit = UnknownCommit
	}
	return info
}

// recordedCommit returns the vcs.revision the go command recorded, with "-dirty"
// when vcs.modified says the checkout had local changes; "" when none was recorded.
func recordedCommit(settings []debug.BuildSetting) string {
	var revision, modified string
	for _, setting := range settings {
		switch setting.Key {
		case "vcs.revision":
			revision = setting.Value
		case "vcs.modified":
			modified = setting.Value
		}
	}
	if revision != "" && modified == "true" {
		return revision + "-dirty"
	}
	return revision
}

// String returns the one-line form `wsgate -version` prints:
// "wsgate v1.2.0 (commit 0123abc..., go1.26.8)".
func (i Info) String() string {
	return "wsgate " + i.Version + " (commit " + i.Commit + ", " + i.GoVersion + ")"
}
