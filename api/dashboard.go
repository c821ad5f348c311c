package api

import "net/http"

// Dashboard is the live dashboard the API serves under /dashboard (package dashboard
// implements it); the API applies its access rule, the dashboard serves. Its
// methods must be safe for concurrent use.
type Dashboard interface {
	// ServePage answers GET /dashboard and GET /dashboard/assets/{file...}: the
	// page and the files it loads, which hold no data.
	ServePage(writer http.ResponseWriter, request *http.Request)
	// ServeEvents answers GET /dashboard/api/events: the live stream.
	ServeEvents(writer http.ResponseWriter, request *http.Request)
	// ServeSearch answers GET /dashboard/api/search: connections by user or id.
	ServeSearch(writer http.ResponseWriter, request *http.Request)
}

// routeDashboard registers the dashboard's routes. Its data (the stream and the
// search) is behind the API key rule like stats. The page and its files hold no
// data: with an API key they are open to anyone, so that a browser, which cannot
// send the key when it opens a URL, gets the page that asks for the key; without a
// key they answer loopback clients only, like everything else.
func (a *API) routeDashboard(dashboard Dashboard) {
	page, register := dashboard.ServePage, a.routes.handleOpen
	if a.access.keyDigest == nil {
		page, register = a.access.protect(page), a.routes.handle
	}
	register("GET", "/dashboard", page)
	register("GET", "/dashboard/assets/{file...}", page)
	a.routes.handle("GET", "/dashboard/api/events", a.access.protect(dashboard.ServeEvents))
	a.routes.handle("GET", "/dashboard/api/search", a.access.protect(dashboard.ServeSearch))
}
