package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardResponse is an http.ResponseWriter that only counts the body's bytes, so
// the benchmark measures the scrape and not a recorder's buffer.
type discardResponse struct {
	header  http.Header
	written int
}

func (d *discardResponse) Header() http.Header { return d.header }
func (d *discardResponse) WriteHeader(int)     {}
func (d *discardResponse) Write(data []byte) (int, error) {
	d.written += len(data)
	return len(data), nil
}

// BenchmarkScrape measures a scrape on a hub holding 10 and 15,000 connections:
// families=wsgate writes the node's wsgate_ families only, families=all is a whole
// GET /metrics, Go runtime and process families included. Neither may depend on the
// number of connections; bytes/scrape shows that the output does not grow either.
// The whole scrape allocates, so its time also carries a share of the garbage
// collector's work, which grows with the live heap (the sessions), not with the
// scrape.
func BenchmarkScrape(b *testing.B) {
	for _, connections := range []int{10, 15000} {
		b.Run(fmt.Sprintf("connections=%d/families=wsgate", connections), func(b *testing.B) {
			handler, _ := apiWithSessions(b, connections)
			var out exposition
			b.ReportAllocs()
			for b.Loop() {
				out.buffer.Reset()
				handler.writeNodeFamilies(&out)
			}
			b.ReportMetric(float64(out.buffer.Len()), "bytes/scrape")
		})
		b.Run(fmt.Sprintf("connections=%d/families=all", connections), func(b *testing.B) {
			handler, _ := apiWithSessions(b, connections)
			request := httptest.NewRequest("GET", "/metrics", nil)
			request.RemoteAddr = "127.0.0.1:9090"
			response := &discardResponse{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				handler.ServeHTTP(response, request)
			}
			b.ReportMetric(float64(response.written)/float64(b.N), "bytes/scrape")
		})
	}
}
