package api

import "net/http/pprof"

// routeProfiling serves Go's profiler under /debug/pprof/, behind the same access
// rule as stats and metrics (the API key, or loopback only): CPU and heap profiles
// are how a missed benchmark target is explained, and /debug/pprof/heap?gc=1 lets
// the load generator read the heap after a forced collection. A profile costs
// nothing until requested.
func (a *API) routeProfiling() {
	a.routes.HandleFunc("GET /debug/pprof/", a.access.protect(pprof.Index))
	a.routes.HandleFunc("GET /debug/pprof/profile", a.access.protect(pprof.Profile))
	a.routes.HandleFunc("GET /debug/pprof/trace", a.access.protect(pprof.Trace))
	a.routes.HandleFunc("GET /debug/pprof/symbol", a.access.protect(pprof.Symbol))
	a.routes.HandleFunc("GET /debug/pprof/cmdline", a.access.protect(pprof.Cmdline))
}
