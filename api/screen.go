package api

import (
	"net/http"
	"strconv"
)

// Screen judges a request whose body has not been read yet (engine.Config.Screen):
// wsgate's event loop buffers a whole body before a handler runs, so what can be
// answered without the body is answered before it: an unknown route or method (404,
// 405), a request the access rule refuses (401, 403), a Content-Length over
// MaxBodySize (413), each as ServeHTTP would answer it. It returns nil for a request
// the handler must see. Its cost is a route lookup and, for a route behind the API
// key, one SHA-256 of the presented key; it never blocks. Safe for concurrent use.
func (a *API) Screen(request *http.Request) http.Handler {
	_, open, found := a.routes.route(request)
	if !found {
		return a.routes
	}
	if !open {
		if refused := a.access.refusal(request); refused != nil {
			return refused
		}
	}
	if request.ContentLength > a.maxBodySize {
		return http.HandlerFunc(a.writeBodyTooLarge)
	}
	return nil
}

// writeBodyTooLarge answers 413 body_too_large.
func (a *API) writeBodyTooLarge(writer http.ResponseWriter, _ *http.Request) {
	writeError(writer, http.StatusRequestEntityTooLarge, "body_too_large",
		"the request body exceeds "+strconv.FormatInt(a.maxBodySize, 10)+" bytes")
}

// Public returns the part of the API that stays where clients connect when the API
// has a listener of its own (gateway.Config.APIAddr): GET /api/v1/ws/stats (behind
// the access rule, where the seed's clients ask for it), and /healthz and /readyz
// (open, for load balancers that check the public port). Every other route answers
// 404 there, before any body is read. It shares everything else with a, and is safe
// for concurrent use.
func (a *API) Public() *API {
	public := *a
	public.routes = a.public
	return &public
}
