package engine

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upgradeAnswer sends an upgrade request with headers (each "Name: value") over a
// real socket and returns the server's HTTP answer.
func upgradeAnswer(t *testing.T, addr, method string, headers ...string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	request := method + " " + DefaultPath + " HTTP/1.1\r\nHost: " + addr + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(answerTimeout))
	response, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return response
}

// TestUpgradeAnswers: the opening handshake of RFC 6455 §4.2, as the server answers
// it itself: the accept key of the RFC's own example, the subprotocol only when
// offered exactly, and the HTTP error of each malformed request.
func TestUpgradeAnswers(t *testing.T) {
	addr := startConformanceServer(t)
	valid := []string{"Upgrade: websocket", "Connection: keep-alive, Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}
	t.Run("accept key and no subprotocol", func(t *testing.T) {
		response := upgradeAnswer(t, addr, "GET", valid...)
		if response.StatusCode != http.StatusSwitchingProtocols || response.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Fatalf("%s with accept %q, want 101 with the RFC's s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", response.Status, response.Header.Get("Sec-WebSocket-Accept"))
		}
		if protocol, ok := response.Header["Sec-Websocket-Protocol"]; ok {
			t.Fatalf("subprotocol %q selected though none was offered", protocol)
		}
	})
	t.Run("wsgate subprotocol selected, nothing else echoed", func(t *testing.T) {
		response := upgradeAnswer(t, addr, "GET", append(valid, "Sec-WebSocket-Protocol: bearer.secret, "+Subprotocol)...)
		if got := response.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != Subprotocol {
			t.Fatalf("selected %q, want only %q", got, Subprotocol)
		}
	})
	t.Run("subprotocol compared exactly", func(t *testing.T) {
		response := upgradeAnswer(t, addr, "GET", append(valid, "Sec-WebSocket-Protocol: "+strings.ToUpper(Subprotocol))...)
		if got := response.Header.Get("Sec-WebSocket-Protocol"); got != "" {
			t.Fatalf("selected %q for an offer in other case", got)
		}
	})
	for name, refusal := range map[string]struct {
		method  string
		headers []string
		status  int
		code    string
	}{
		"no Upgrade header":    {"GET", []string{valid[1], valid[2], valid[3]}, http.StatusBadRequest, "not_websocket"},
		"no Connection header": {"GET", []string{valid[0], valid[2], valid[3]}, http.StatusBadRequest, "not_websocket"},
		"HEAD":                 {"HEAD", valid, http.StatusMethodNotAllowed, "method_not_allowed"},
		"POST":                 {"POST", valid, http.StatusMethodNotAllowed, "method_not_allowed"},
		"version 8":            {"GET", []string{valid[0], valid[1], "Sec-WebSocket-Version: 8", valid[3]}, http.StatusUpgradeRequired, "unsupported_version"},
		"no key":               {"GET", valid[:3], http.StatusBadRequest, "invalid_key"},
		"key of 15 bytes":      {"GET", append(valid[:3:3], "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"), http.StatusBadRequest, "invalid_key"},
		"foreign origin":       {"GET", append(valid, "Origin: https://elsewhere.example"), http.StatusForbidden, "origin_not_allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			response := upgradeAnswer(t, addr, refusal.method, refusal.headers...)
			if response.StatusCode != refusal.status || response.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("%s with Sec-WebSocket-Version %q, want %d with 13", response.Status, response.Header.Get("Sec-WebSocket-Version"), refusal.status)
			}
			if refusal.method == http.MethodHead {
				// The headers of the answer, without its body (TestHeadGetsTheHeadersWithoutTheBody).
				if response.ContentLength <= 0 || response.Header.Get("Content-Type") != "application/json" || response.Header.Get("Allow") != "GET" {
					t.Fatalf("HEAD: Content-Length %d, Content-Type %q, Allow %q; want the JSON error's length and type, and GET",
						response.ContentLength, response.Header.Get("Content-Type"), response.Header.Get("Allow"))
				}
				return
			}
			var body struct{ Error, Message string }
			if err := json.NewDecoder(response.Body).Decode(&body); err != nil || response.Header.Get("Content-Type") != "application/json" ||
				body.Error != refusal.code || body.Message == "" {
				t.Fatalf("body %+v (%v), Content-Type %q; want the JSON error %q with a message", body, err, response.Header.Get("Content-Type"), refusal.code)
			}
			if allow := response.Header.Get("Allow"); refusal.status == http.StatusMethodNotAllowed && allow != "GET" {
				t.Fatalf("Allow %q on a 405, want GET", allow)
			}
		})
	}
}
