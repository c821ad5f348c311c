package api

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// routeProfiling serves Go's profiler under /debug/pprof/, behind the same access
// rule as stats and metrics (the API key, or loopback only): CPU and heap profiles
// are how a missed benchmark target is explained, and /debug/pprof/heap?gc=1 lets
// the load generator read the heap after a forced collection. A profile costs
// nothing until requested.
func (a *API) routeProfiling() {
	a.routes.handle("GET", "/debug/pprof/", a.access.protect(serveProfiling))
}

// profilingHandlers are the pprof endpoints that are not named runtime profiles.
var profilingHandlers = map[string]http.HandlerFunc{
	"profile": pprof.Profile,
	"trace":   pprof.Trace,
	"symbol":  pprof.Symbol,
	"cmdline": pprof.Cmdline,
}

// serveProfiling answers everything under /debug/pprof/ as one route (so that the
// router's 405 covers the whole tree): the endpoints above by name, the index and
// named runtime profiles (heap, goroutine, ...) through pprof.Index.
func serveProfiling(writer http.ResponseWriter, request *http.Request) {
	if handler, found := profilingHandlers[strings.TrimPrefix(request.URL.Path, "/debug/pprof/")]; found {
		handler(writer, request)
		return
	}
	pprof.Index(writer, request)
}
