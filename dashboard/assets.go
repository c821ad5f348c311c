package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// files holds the page and everything it loads: nothing comes from anywhere else
// (the Content-Security-Policy below says so to the browser too). vendor/ holds
// uPlot exactly as its pinned npm release ships it (web/package.json, checked by
// make test-js; make dashboard-assets copies it).
//
//go:embed assets
var files embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	// etag is a strong validator of body, so a browser revalidates for free.
	etag string
}

// contentTypes are the types of the embedded files by extension: fixed here rather
// than read from the system's MIME tables, which differ between machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// assets maps the paths under /dashboard/assets/ (and "" for the page) to files.
var assets = func() map[string]asset {
	loaded := make(map[string]asset)
	err := fs.WalkDir(files, "assets", func(name string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		digest := sha256.Sum256(body)
		key := strings.TrimPrefix(name, "assets/")
		if key == "index.html" {
			key = ""
		}
		contentType, known := contentTypes[path.Ext(name)]
		if !known {
			return fmt.Errorf("%s: no content type for its extension", name)
		}
		loaded[key] = asset{body: body, contentType: contentType,
			etag: `"` + base64.RawURLEncoding.EncodeToString(digest[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: embedded assets: " + err.Error())
	}
	return loaded
}()

// contentSecurityPolicy lets the page load its own files and talk to its own node
// only, and forbids framing it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ServePage answers GET /dashboard (the page) and GET /dashboard/assets/{file...}
// (what it loads), from the files embedded in the binary; 404 for any other file.
// They hold no data: the page asks for the API key when the node has one. The caller
// checks access (the API does: with a key the page is open to anyone, without one it
// answers loopback clients only, like the data).
func (d *Dashboard) ServePage(writer http.ResponseWriter, request *http.Request) {
	file, found := assets[request.PathValue("file")]
	if !found {
		writeError(writer, http.StatusNotFound, "not_found", "no dashboard file "+request.URL.Path)
		return
	}
	header := writer.Header()
	header.Set("Content-Type", file.contentType)
	header.Set("Cache-Control", "no-cache")
	header.Set("ETag", file.etag)
	header.Set("Content-Security-Policy", contentSecurityPolicy)
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("X-Frame-Options", "DENY")
	header.Set("Referrer-Policy", "no-referrer")
	if request.Header.Get("If-None-Match") == file.etag {
		writer.WriteHeader(http.StatusNotModified)
		return
	}
	writer.WriteHeader(http.StatusOK)
	if request.Method != http.MethodHead {
		_, _ = writer.Write(file.body)
	}
}
