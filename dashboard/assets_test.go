package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestEmbeddedUPlotIsThePinnedRelease: the embedded uPlot names the version that
// web/package-lock.json pins, and, where npm ci has run (make test-js does), equals
// the installed package byte for byte (web/vendor.js --check checks the same).
func TestEmbeddedUPlotIsThePinnedRelease(t *testing.T) {
	lockfile, err := os.ReadFile("web/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(lockfile, &lock); err != nil {
		t.Fatal(err)
	}
	pinned := lock.Packages["node_modules/uplot"]
	if pinned.Version == "" || !strings.HasPrefix(pinned.Integrity, "sha512-") {
		t.Fatalf("package-lock.json pins uplot %+v; want a version and its integrity", pinned)
	}
	script := assets["vendor/uPlot.iife.min.js"].body
	if banner := "/*! https://github.com/leeoniya/uPlot (v" + pinned.Version + ") */"; !bytes.HasPrefix(script, []byte(banner)) {
		t.Fatalf("the embedded uPlot starts %q; want %q", script[:min(len(script), 60)], banner)
	}
	for embedded, installed := range map[string]string{
		"vendor/uPlot.iife.min.js": "web/node_modules/uplot/dist/uPlot.iife.min.js",
		"vendor/uPlot.min.css":     "web/node_modules/uplot/dist/uPlot.min.css",
	} {
		original, err := os.ReadFile(installed)
		if os.IsNotExist(err) {
			t.Logf("%s is not installed (npm ci in dashboard/web): only the version was checked", installed)
			continue
		}
		if err != nil || !bytes.Equal(original, assets[embedded].body) {
			t.Fatalf("embedded %s differs from %s (%v): run make dashboard-assets", embedded, installed, err)
		}
	}
}

func TestThePageIsServedWithItsPolicyAndRevalidatedByETag(t *testing.T) {
	_, d := newNode(t)
	serve := func(path, file, etag string) *httptest.ResponseRecorder {
		request := httptest.NewRequest("GET", path, nil)
		request.SetPathValue("file", file)
		if etag != "" {
			request.Header.Set("If-None-Match", etag)
		}
		recorder := httptest.NewRecorder()
		d.ServePage(recorder, request)
		return recorder
	}
	page := serve("/dashboard", "", "")
	if page.Code != http.StatusOK || page.Header().Get("Content-Type") != "text/html; charset=utf-8" ||
		page.Header().Get("Content-Security-Policy") != contentSecurityPolicy || page.Header().Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(page.Body.String(), `src="dashboard/assets/dashboard.js"`) {
		t.Fatalf("page: %d %v", page.Code, page.Header())
	}
	if again := serve("/dashboard", "", page.Header().Get("ETag")); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("page with its ETag: %d, %d bytes; want 304 without a body", again.Code, again.Body.Len())
	}
	if script := serve("/dashboard/assets/dashboard.js", "dashboard.js", ""); script.Code != http.StatusOK ||
		script.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("script: %d %v", script.Code, script.Header())
	}
	if missing := serve("/dashboard/assets/../../etc/passwd", "../../etc/passwd", ""); missing.Code != http.StatusNotFound {
		t.Fatalf("a path outside the assets: %d; want 404", missing.Code)
	}
}
