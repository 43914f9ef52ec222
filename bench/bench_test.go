package bench

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	forksdigest "github.com/mongodb-forks/digest"
	idigest "github.com/seed243cb23e/atlaskeys/internal/digest"
)

// srv is the one server every benchmark of the process talks to.
var srv *Server

func TestMain(m *testing.M) {
	srv = NewServer()
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// Latency is the injected server delay of the *Latency5ms cases.
const Latency = 5 * time.Millisecond

func report(b *testing.B, d Counts) {
	n := float64(b.N)
	b.ReportMetric(float64(d.Requests)/n, "requests/op")
	b.ReportMetric(float64(d.Unauthorized)/n, "401s/op")
	b.ReportMetric(float64(d.BodyBytes)/n, "reqbody-B/op")
}

// runSeq times op over b.N iterations after one untimed warm-up call, and
// reports the server's counters per op.
func runSeq(b *testing.B, warm func() error, op func(i int) error) {
	if warm != nil {
		if err := warm(); err != nil {
			b.Fatal(err)
		}
	}
	before := srv.Counts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, srv.Counts().Sub(before))
}

func withLatency(b *testing.B, d time.Duration) {
	srv.SetLatency(d)
	b.Cleanup(func() { srv.SetLatency(0) })
}

// BenchmarkGet: one warm GET of a key (the client has made one call before
// the clock starts).
func BenchmarkGet(b *testing.B) { benchGet(b, 0) }

// BenchmarkGetLatency5ms: the same with 5 ms added by the server to every
// request, as a stand-in for the network distance to Atlas.
func BenchmarkGetLatency5ms(b *testing.B) { benchGet(b, Latency) }

func benchGet(b *testing.B, latency time.Duration) {
	for _, cc := range append(clients[:len(clients):len(clients)], clientCtor{"floor-model", newFloorModel}) {
		b.Run(cc.name, func(b *testing.B) {
			withLatency(b, latency)
			c := cc.new(b, srv)
			defer c.close()
			ctx := context.Background()
			runSeq(b, func() error { return c.get(ctx, 0) }, func(i int) error { return c.get(ctx, i) })
		})
	}
}

// BenchmarkCreate: create a key (warm); reqbody-B/op is how many request
// body bytes reached the server per create.
func BenchmarkCreate(b *testing.B) {
	for _, cc := range clients {
		b.Run(cc.name, func(b *testing.B) {
			c := cc.new(b, srv)
			defer c.close()
			ctx := context.Background()
			runSeq(b, func() error { return c.get(ctx, 0) }, func(int) error { return c.create(ctx) })
		})
	}
}

// BenchmarkList: walk all 10,000 keys of the organization; one op is one
// full listing. peak-heap-MB and peak-live-MB are explained at peakMem.
func BenchmarkList(b *testing.B) {
	for _, per := range []int{500, 100} {
		b.Run("per="+itoa(per), func(b *testing.B) { benchList(b, per, 0) })
	}
}

// BenchmarkListLatency5ms: the listing at 100 a page with 5 ms server
// latency, where fetch-ahead pays off.
func BenchmarkListLatency5ms(b *testing.B) {
	b.Run("per=100", func(b *testing.B) { benchList(b, 100, Latency) })
}

func benchList(b *testing.B, per int, latency time.Duration) {
	cs := append([]clientCtor{clients[0], withFetchAhead}, clients[1:]...)
	for _, cc := range cs {
		b.Run(cc.name, func(b *testing.B) {
			withLatency(b, latency)
			c := cc.new(b, srv)
			defer c.close()
			ctx := context.Background()
			pm := startPeakMem()
			runSeq(b, func() error { return c.get(ctx, 0) }, func(int) error {
				n, err := c.list(ctx, per)
				if err == nil && n != NumKeys {
					b.Fatalf("listed %d keys, want %d", n, NumKeys)
				}
				return err
			})
			pm.report(b)
		})
	}
}

// BenchmarkParallelGet32: 32 goroutines (16 per GOMAXPROCS on the 2-core
// reference machine; see the goroutines metric) share one client that starts
// cold: its first requests run inside the timed region, so requests/op and
// 401s/op include the cold start amortised over b.N.
func BenchmarkParallelGet32(b *testing.B) {
	const goroutines = 32
	procs := runtime.GOMAXPROCS(0)
	par := (goroutines + procs - 1) / procs
	for _, cc := range clients {
		b.Run(cc.name, func(b *testing.B) {
			c := cc.new(b, srv)
			defer c.close()
			ctx := context.Background()
			before := srv.Counts()
			var next atomic.Int64
			b.SetParallelism(par)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)) * 7
				for pb.Next() {
					if err := c.get(ctx, i); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.StopTimer()
			report(b, srv.Counts().Sub(before))
			b.ReportMetric(float64(par*procs), "goroutines")
		})
	}
}

// BenchmarkDigestSign isolates the digest transports: a warm GET through
// atlaskeys's internal/digest transport and through mongodb-forks/digest
// over a stub RoundTripper that answers from memory (a challenge without
// Authorization, 200 with it), so allocs/op counts the transports' own work
// only. "floor" is the stub alone with a precomputed header.
func BenchmarkDigestSign(b *testing.B) {
	nonce := srv.NewNonce(time.Now())
	challenge := &http.Response{
		StatusCode: http.StatusUnauthorized,
		Header: http.Header{"Www-Authenticate": {`Digest realm="` + Realm + `", domain="", nonce="` + nonce +
			`", algorithm=MD5, qop="auth", stale=false`}},
		Body: http.NoBody,
	}
	ok := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	url := srv.URL + v2Prefix + OrgID + "/apiKeys/" + srv.KeyID(0)
	uri := v2Prefix + OrgID + "/apiKeys/" + srv.KeyID(0)
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header["Accept"] = acceptV2

	stub := func(verify bool) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) {
			h := r.Header["Authorization"]
			if len(h) == 0 {
				return challenge, nil
			}
			if verify {
				if good, _ := srv.VerifyHeader(h[0], r.Method, r.URL.RequestURI()); !good {
					b.Fatalf("transport sent an invalid Authorization: %s", h[0])
				}
			}
			return ok, nil
		})
	}
	transports := []struct {
		name string
		new  func(rt http.RoundTripper) http.RoundTripper
	}{
		{"atlaskeys", func(rt http.RoundTripper) http.RoundTripper { return idigest.NewTransport(PublicKey, PrivateKey, rt) }},
		{"mongodb-forks", func(rt http.RoundTripper) http.RoundTripper {
			return forksdigest.NewTransportWithHTTPRoundTripper(PublicKey, PrivateKey, rt)
		}},
		{"floor", func(rt http.RoundTripper) http.RoundTripper {
			auth := []string{Authorization(nonce, http.MethodGet, uri)}
			return rtFunc(func(r *http.Request) (*http.Response, error) {
				r.Header["Authorization"] = auth
				return rt.RoundTrip(r)
			})
		}},
	}
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			// Check once, untimed, that the transport signs correctly
			// (this also warms the atlaskeys cache).
			if _, err := tc.new(stub(true)).RoundTrip(req); err != nil {
				b.Fatal(err)
			}
			t := tc.new(stub(false))
			if _, err := t.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := t.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// peakMem samples the runtime's heap metrics every millisecond while a
// benchmark runs (runtime/metrics reads do not stop the world, unlike
// runtime.ReadMemStats). Two figures are reported, both for the whole
// process (client and server share it; compare with the floor's row):
//
//   - peak-heap-MB: the largest /memory/classes/heap/objects:bytes seen,
//     that is live objects plus garbage not yet swept. It follows the GC's
//     pacing (about twice the live heap with GOGC=100).
//   - peak-live-MB: the largest /gc/heap/live:bytes, the heap marked live by
//     a GC cycle that ended during the run: what the process really held.
//     A listing that keeps only the pages in flight keeps this flat.
type peakMem struct {
	stop       chan struct{}
	wg         sync.WaitGroup
	heap, live uint64
}

func startPeakMem() *peakMem {
	p := &peakMem{stop: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			if samples[0].Value.Kind() == metrics.KindUint64 {
				p.heap = max(p.heap, samples[0].Value.Uint64())
			}
			if samples[1].Value.Kind() == metrics.KindUint64 {
				p.live = max(p.live, samples[1].Value.Uint64())
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakMem) report(b *testing.B) {
	close(p.stop)
	p.wg.Wait()
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(p.live)/(1<<20), "peak-live-MB")
}
