package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// recorded returns a ReadBuildInfo stand-in answering with the given main module
// version and build settings.
func recorded(mainVersion string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: mainVersion}, Settings: settings}, true
	}
}

func TestValuesSetAtBuildTimeWin(t *testing.T) {
	info := resolve("v1.2.0", "0123abc", recorded("v0.9.0", debug.BuildSetting{Key: "vcs.revision", Value: "ffff"}))
	if info != (Info{Version: "v1.2.0", Commit: "0123abc", GoVersion: runtime.Version()}) {
		t.Fatalf("got %+v", info)
	}
}

func TestTheGoCommandsRecordIsTheFallback(t *testing.T) {
	tests := map[string]struct {
		read              func() (*debug.BuildInfo, bool)
		version, revision string
	}{
		"go install of a release": {recorded("v1.3.0"), "v1.3.0", UnknownCommit},
		"build in a clean checkout": {recorded("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "abc123"},
			debug.BuildSetting{Key: "vcs.modified", Value: "false"}), UnknownVersion, "abc123"},
		"build with local changes": {recorded("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "abc123"},
			debug.BuildSetting{Key: "vcs.modified", Value: "true"}), UnknownVersion, "abc123-dirty"},
		"nothing recorded": {func() (*debug.BuildInfo, bool) { return nil, false }, UnknownVersion, UnknownCommit},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			info := resolve("", "", test.read)
			if info.Version != test.version || info.Commit != test.revision || info.GoVersion != runtime.Version() {
				t.Fatalf("got %+v, want version %q and commit %q", info, test.version, test.revision)
			}
		})
	}
}

func TestStringIsTheVersionLine(t *testing.T) {
	info := Info{Version: "v1.2.0", Commit: "0123abc", GoVersion: "go1.26.8"}
	if got, want := info.String(), "wsgate v1.2.0 (commit 0123abc, go1.26.8)"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
