package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name   string
		target string
		header http.Header
		want   string
	}{
		{"none", "/ws", nil, ""},
		{"bearer header", "/ws", http.Header{"Authorization": {"Bearer a.b.c"}}, "a.b.c"},
		{"scheme is case-insensitive", "/ws", http.Header{"Authorization": {"bearer a.b.c"}}, "a.b.c"},
		{"other scheme", "/ws", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, ""},
		{"bare bearer", "/ws", http.Header{"Authorization": {"Bearer"}}, ""},
		{"query", "/ws?token=q.r.s", nil, "q.r.s"},
		{"subprotocol", "/ws", http.Header{"Sec-Websocket-Protocol": {"wsgate.v1, bearer.s.t.u"}}, "s.t.u"},
		{"subprotocol first", "/ws", http.Header{"Sec-Websocket-Protocol": {"bearer.s.t.u,wsgate.v1"}}, "s.t.u"},
		{"subprotocol on a second line", "/ws", http.Header{"Sec-Websocket-Protocol": {"wsgate.v1", "bearer.x.y.z"}}, "x.y.z"},
		{"empty subprotocol token", "/ws?token=q.r.s", http.Header{"Sec-Websocket-Protocol": {"wsgate.v1, bearer."}}, "q.r.s"},
		{"no bearer subprotocol", "/ws", http.Header{"Sec-Websocket-Protocol": {"wsgate.v1, chat"}}, ""},
		{"header wins over subprotocol and query", "/ws?token=q.r.s",
			http.Header{"Authorization": {"Bearer a.b.c"}, "Sec-Websocket-Protocol": {"bearer.s.t.u"}}, "a.b.c"},
		{"subprotocol wins over query", "/ws?token=q.r.s", http.Header{"Sec-Websocket-Protocol": {"bearer.s.t.u"}}, "s.t.u"},
	}
	for _, test := range tests {
		request := httptest.NewRequest("GET", test.target, nil)
		for name, values := range test.header {
			request.Header[name] = values
		}
		if got := TokenFromRequest(request); got != test.want {
			t.Errorf("%s: token %q, want %q", test.name, got, test.want)
		}
	}
}
