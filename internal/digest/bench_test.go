package digest

import (
	"io"
	"net/http"
	"testing"
)

func BenchmarkSignWarm(b *testing.B) {
	chs, err := ParseChallenges([]string{atlasChallenge})
	if err != nil {
		b.Fatal(err)
	}
	e, err := newEntry("abcdefgh", "2f0d-4f4e-bd1a-a8c5c1a3b5e6", chs[0])
	if err != nil {
		b.Fatal(err)
	}
	const uri = "/api/atlas/v2/orgs/5d1d143c87d9d63e6d694746/apiKeys?pageNum=1&itemsPerPage=100"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.authorization(http.MethodGet, uri, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripWarmNoNetwork is the transport's own overhead on the warm
// path (cache look-up, request and header clone, signing), with a base that
// answers 200 at once.
func BenchmarkRoundTripWarmNoNetwork(b *testing.B) {
	chs, _ := ParseChallenges([]string{atlasChallenge})
	ok := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}
	tr := NewTransport("abcdefgh", "secret", roundTripFunc(func(*http.Request) (*http.Response, error) { return ok, nil }))
	req, _ := http.NewRequest(http.MethodGet, "https://cloud.mongodb.com/api/atlas/v2/groups?pageNum=1", nil)
	req.Header.Set("Accept", "application/vnd.atlas.2023-01-01+json")
	if _, err := tr.store(keyFor(req.URL), chs[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGet(b *testing.B, cold bool) {
	srv := newTestServer(b, nil)
	base := &http.Transport{}
	b.Cleanup(base.CloseIdleConnections)
	tr := NewTransport(srv.user, srv.pass, base)
	get := func(tr *Transport) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/atlas/v2/groups", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	if !cold {
		get(tr)
	}
	before := srv.counts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if cold {
			tr = NewTransport(srv.user, srv.pass, base) // empty cache, same connections
		}
		get(tr)
	}
	b.StopTimer()
	after := srv.counts()
	b.ReportMetric(float64(after.requests-before.requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(after.unauth-before.unauth)/float64(b.N), "401s/op")
}

func BenchmarkGetCold(b *testing.B) { benchGet(b, true) }
func BenchmarkGetWarm(b *testing.B) { benchGet(b, false) }
