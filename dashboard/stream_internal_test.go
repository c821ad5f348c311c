package dashboard

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

func TestAViewerBeyondMaxViewersGets503UntilOneLeaves(t *testing.T) {
	_, d := newNode(t)
	d.config.MaxViewers = 1
	d.Start()
	// net/http's server, unlike nbio's, blocks on writes: the dashboard streams from
	// its own goroutine either way.
	server := httptest.NewServer(http.HandlerFunc(d.ServeEvents))
	t.Cleanup(server.Close)
	first, err := http.Get(server.URL)
	if err != nil || first.StatusCode != http.StatusOK {
		t.Fatalf("first viewer: %v %v", first, err)
	}
	if line, err := bufio.NewReader(first.Body).ReadString('\n'); err != nil || line != "event: history\n" {
		t.Fatalf("first viewer read %q, %v", line, err)
	}
	second, err := http.Get(server.URL)
	if err != nil || second.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second viewer: %v %v; want 503", second, err)
	}
	_ = second.Body.Close()
	_ = first.Body.Close()
	testsupport.WaitFor(t, 5*time.Second, "the first viewer's slot to be free", func() bool {
		response, err := http.Get(server.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = response.Body.Close()
		return response.StatusCode == http.StatusOK
	})
}
