package api

import (
	"net/http"
	"path"
	"slices"
	"strings"
)

// router routes the API's requests with an http.ServeMux and gives the answers that
// ServeMux would give in plain text, or as a redirect, in the API's JSON error
// shape instead: a known path asked with another method gets 405 with an Allow
// header, an unknown route gets 404, and so does a path with an empty, "." or ".."
// segment (ServeMux would redirect "/api/v1/users//send" to "/api/v1/users/send",
// another route, with an empty body). Routes are added during New only; after that
// it is read-only and safe for concurrent use.
type router struct {
	mux *http.ServeMux
	// methods lists, per path pattern, the methods registered for it, in the
	// order they were registered.
	methods map[string][]string
	// routes holds every registered "METHOD pattern", true for the routes open to
	// anyone (handleOpen), false for those behind the access rule.
	routes map[string]bool
}

func newRouter() *router {
	r := &router{mux: http.NewServeMux(), methods: make(map[string][]string), routes: make(map[string]bool)}
	r.mux.HandleFunc("/", func(writer http.ResponseWriter, request *http.Request) {
		writeNoRoute(writer, request, "")
	})
	return r
}

// handle serves method and path (an http.ServeMux path pattern such as
// "/api/v1/users/{user_id}/send") with handler, which applies the access rule
// itself (access.protect). The first route of a path also registers the path
// without a method, which answers the methods not registered with 405.
func (r *router) handle(method, pattern string, handler http.HandlerFunc) {
	r.add(method, pattern, handler, false)
}

// handleOpen serves a route open to anyone, such as /healthz.
func (r *router) handleOpen(method, pattern string, handler http.HandlerFunc) {
	r.add(method, pattern, handler, true)
}

func (r *router) add(method, pattern string, handler http.HandlerFunc, open bool) {
	r.routes[method+" "+pattern] = open
	r.mux.HandleFunc(method+" "+pattern, handler)
	if _, known := r.methods[pattern]; !known {
		r.mux.HandleFunc(pattern, func(writer http.ResponseWriter, request *http.Request) {
			r.methodNotAllowed(writer, request, pattern)
		})
	}
	r.methods[pattern] = append(r.methods[pattern], method)
}

// methodNotAllowed answers 405 for a request to pattern with a method it does not
// serve. A GET route serves HEAD too, as in http.ServeMux.
func (r *router) methodNotAllowed(writer http.ResponseWriter, request *http.Request, pattern string) {
	allowed := slices.Clone(r.methods[pattern])
	if slices.Contains(allowed, http.MethodGet) && !slices.Contains(allowed, http.MethodHead) {
		allowed = append(allowed, http.MethodHead)
	}
	writer.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(writer, http.StatusMethodNotAllowed, "method_not_allowed",
		request.Method+" is not allowed on "+request.URL.Path+"; allowed: "+strings.Join(allowed, ", "))
}

// ServeHTTP routes a request.
func (r *router) ServeHTTP(writer http.ResponseWriter, request *http.Request) {
	if !r.routable(request) {
		writeNoRoute(writer, request, ` (a path segment is empty, "." or "..")`)
		return
	}
	r.mux.ServeHTTP(writer, request)
}

// route returns the registered route ("METHOD pattern") request goes to, and
// whether it is open to anyone; found is false when the router answers it with 404
// or 405 itself.
func (r *router) route(request *http.Request) (route string, open, found bool) {
	if !r.routable(request) {
		return "", false, false
	}
	_, route = r.mux.Handler(request)
	open, found = r.routes[route]
	return route, open, found
}

// routable reports whether request's path can reach a route: ServeMux would answer
// an unclean one with a redirect.
func (r *router) routable(request *http.Request) bool {
	return request.Method == http.MethodConnect || isCleanPath(request.URL.EscapedPath())
}

// writeNoRoute answers 404 for a request that matches no route; detail, when not
// empty, says why.
func writeNoRoute(writer http.ResponseWriter, request *http.Request, detail string) {
	writeError(writer, http.StatusNotFound, "not_found", "no route for "+request.Method+" "+request.URL.Path+detail)
}

// isCleanPath reports whether escapedPath is its own canonical form as http.ServeMux
// computes it: rooted, without empty, "." or ".." segments; a trailing slash is
// kept.
func isCleanPath(escapedPath string) bool {
	if !strings.HasPrefix(escapedPath, "/") {
		return false
	}
	cleaned := path.Clean(escapedPath)
	if strings.HasSuffix(escapedPath, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned == escapedPath
}
