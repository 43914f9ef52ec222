package digest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newClient returns an http.Client whose transport signs with user/pass. The
// underlying connections are closed when the test ends.
func newClient(t testing.TB, user, pass string) (*http.Client, *Transport) {
	t.Helper()
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	tr := NewTransport(user, pass, base)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

func doReq(t testing.TB, c *http.Client, method, u, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(b)
}

func TestSequentialGetsOneChallenge(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, srv.pass)
	for i := 0; i < 1000; i++ {
		resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/api/atlas/v2/groups", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %v", i, srv.refusals())
	}
	got := srv.counts()
	t.Logf("1,000 sequential signed GETs: %d requests reached the server, %d of them answered 401", got.requests, got.unauth)
	assert.Equal(t, 1001, got.requests)
	assert.Equal(t, 1, got.unauth)
	// nc rose 1..1000 on the one nonce (the server also refuses repeats).
	recs := srv.records()
	assert.Equal(t, "00000001", recs[1].auth["nc"])
	assert.Equal(t, "000003e8", recs[1000].auth["nc"])
	assert.NotEqual(t, recs[1].auth["cnonce"], recs[2].auth["cnonce"], "cnonce must be fresh per request")
}

func TestColdConcurrentSharesOneProbe(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) { s.challengeDelay = 50 * time.Millisecond })
	c, _ := newClient(t, srv.user, srv.pass)
	const n = 32
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	statuses := make([]int, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			resp, err := c.Get(srv.URL + "/api/atlas/v2/groups")
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	ready.Wait()
	close(start)
	done.Wait()
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		require.Equal(t, http.StatusOK, statuses[i], "%v", srv.refusals())
	}
	got := srv.counts()
	t.Logf("%d goroutines starting cold: %d challenges (401s) in total, %d requests", n, got.unauth, got.requests)
	assert.Equal(t, 1, got.unauth, "one shared challenge")
	assert.Equal(t, n+1, got.requests)
}

// blockingBase holds unauthenticated requests until released.
type blockingBase struct {
	base    http.RoundTripper
	entered chan struct{}
	release chan struct{}
}

func (b *blockingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.base.RoundTrip(r)
}

func TestColdWaiterRespectsContext(t *testing.T) {
	srv := newTestServer(t, nil)
	httpTr := &http.Transport{}
	t.Cleanup(httpTr.CloseIdleConnections)
	bb := &blockingBase{base: httpTr, entered: make(chan struct{}, 1), release: make(chan struct{})}
	tr := NewTransport(srv.user, srv.pass, bb)

	leaderDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/a", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			leaderDone <- -1
			return
		}
		drainClose(resp.Body)
		leaderDone <- resp.StatusCode
	}()
	<-bb.entered // the leader's probe is in flight

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/b", strings.NewReader("payload"))
	waiterErr := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			drainClose(resp.Body)
		}
		waiterErr <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it queue behind the leader
	cancel()
	select {
	case err := <-waiterErr:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("waiter ignored its context")
	}
	close(bb.release)
	assert.Equal(t, http.StatusOK, <-leaderDone)
	assert.Equal(t, 2, srv.counts().requests)
}

func TestStaleNonceResignsOnce(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, srv.pass)
	resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	srv.expireAll()
	resp, body := doReq(t, c, http.MethodPost, srv.URL+"/x", `{"a":1}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
	assert.Equal(t, `{"a":1}`, body)
	assert.Equal(t, serverCounts{requests: 4, unauth: 2, stale: 1}, srv.counts())
	recs := srv.records()
	assert.Equal(t, `{"a":1}`, recs[2].body, "stale leg carried the body")
	assert.Equal(t, `{"a":1}`, recs[3].body, "re-signed leg replays the body")
	// Steady state again afterwards.
	resp, _ = doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 5, srv.counts().requests)
}

func TestLifetimeExpiry(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) { s.lifetime = 100 * time.Millisecond })
	c, _ := newClient(t, srv.user, srv.pass)
	resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	time.Sleep(150 * time.Millisecond)
	resp, _ = doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, serverCounts{requests: 4, unauth: 2, stale: 1}, srv.counts())
}

func TestCachedNonceRejectedWithoutStaleRetriesOnce(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, srv.pass)
	resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	srv.forgetAll() // server restart: old nonce unknown, plain 401
	resp, _ = doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, serverCounts{requests: 4, unauth: 2, stale: 0}, srv.counts())
}

func TestWrongPasswordNoLoop(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, "wrong-password")
	resp, body := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "Unauthorized", "the 401 reaches the caller unchanged")
	assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
	assert.Equal(t, serverCounts{requests: 2, unauth: 2}, srv.counts(), "probe + signed, no loop")

	// Next call uses the cached challenge: one retry at most, then the 401.
	resp, _ = doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 4, srv.counts().requests)
}

func TestPostBodyReplayedProbeEmpty(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, srv.pass)
	const payload = `{"desc":"new key","roles":["ORG_MEMBER"]}`
	resp, body := doReq(t, c, http.MethodPost, srv.URL+"/api/atlas/v2/orgs/abc/apiKeys", payload)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
	assert.Equal(t, payload, body)
	recs := srv.records()
	require.Len(t, recs, 2)
	assert.Equal(t, http.MethodPost, recs[0].method)
	assert.Empty(t, recs[0].body, "probe has no body")
	assert.Equal(t, int64(0), recs[0].contentLength, "probe sends Content-Length: 0")
	assert.Empty(t, recs[0].te)
	assert.Nil(t, recs[0].auth)
	assert.Equal(t, payload, recs[1].body)
	assert.Equal(t, int64(len(payload)), recs[1].contentLength)
}

// onceReader is a body that can be read only once and has no GetBody.
type onceReader struct {
	io.Reader
	closed bool
}

func (o *onceReader) Close() error { o.closed = true; return nil }

func TestBodyWithoutGetBodyIsBuffered(t *testing.T) {
	srv := newTestServer(t, nil)
	c, tr := newClient(t, srv.user, srv.pass)
	resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	srv.expireAll() // force a stale 401 so the body must be sent twice

	body := &onceReader{Reader: strings.NewReader("streamed body")}
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/x", body)
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err = tr.RoundTrip(req)
	require.NoError(t, err)
	drainClose(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
	assert.True(t, body.closed, "RoundTrip closes the caller's body")
	recs := srv.records()
	require.Len(t, recs, 4)
	assert.Equal(t, "streamed body", recs[2].body)
	assert.Equal(t, "streamed body", recs[3].body)
}

func TestCallerRequestUnmodified(t *testing.T) {
	srv := newTestServer(t, nil)
	_, tr := newClient(t, srv.user, srv.pass)
	for i := 0; i < 2; i++ { // cold, then warm
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/a%2Fb?x=1", strings.NewReader("abc"))
		require.NoError(t, err)
		req.Header.Set("Accept", "application/vnd.atlas.2023-01-01+json")
		req.Header.Add("X-Multi", "1")
		req.Header.Add("X-Multi", "2")
		before := req.Header.Clone()
		origBody, origURL, origLen := req.Body, req.URL.String(), req.ContentLength
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		drainClose(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, before, req.Header)
		assert.Empty(t, req.Header.Get("Authorization"))
		assert.True(t, origBody == req.Body, "caller's Body replaced")
		assert.Equal(t, origURL, req.URL.String())
		assert.Equal(t, origLen, req.ContentLength)
	}
}

func TestURIIsRequestTargetAsSent(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, srv.pass)
	resp, _ := doReq(t, c, http.MethodGet, srv.URL+`/api/atlas/v2/groups/a%2Fb/x%20y?q=a%2Fb&z=%22`, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
	recs := srv.records()
	assert.Equal(t, `/api/atlas/v2/groups/a%2Fb/x%20y?q=a%2Fb&z=%22`, recs[1].auth["uri"])
}

func TestAlgorithmsAndOptions(t *testing.T) {
	type tc struct {
		name      string
		configure func(*testServer)
		wantQOP   string
	}
	var cases []tc
	for _, alg := range []string{"", "MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"} {
		alg := alg
		cases = append(cases, tc{"alg=" + alg, func(s *testServer) { s.algorithms = []string{alg} }, "auth"})
	}
	cases = append(cases,
		tc{"auth-int only", func(s *testServer) { s.qop = "auth-int"; s.algorithms = []string{"SHA-256"} }, "auth-int"},
		tc{"auth and auth-int offered", func(s *testServer) { s.qop = "auth,auth-int" }, "auth"},
		tc{"auth-int first", func(s *testServer) { s.qop = "auth-int, auth" }, "auth"},
		tc{"no qop (RFC 2069)", func(s *testServer) { s.qop = "" }, ""},
		tc{"opaque echoed", func(s *testServer) { s.opaque = "5ccc069c403ebaf9f0171e9517f40e41" }, "auth"},
		tc{"userhash SHA-256", func(s *testServer) { s.userhash = true; s.algorithms = []string{"SHA-256"} }, "auth"},
		tc{"userhash MD5 auth-int", func(s *testServer) { s.userhash = true; s.qop = "auth-int" }, "auth-int"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newTestServer(t, c.configure)
			cl, _ := newClient(t, srv.user, srv.pass)
			for i := 0; i < 3; i++ {
				resp, body := doReq(t, cl, http.MethodPost, srv.URL+"/p", "body-"+c.name)
				require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
				assert.Equal(t, "body-"+c.name, body)
				resp, _ = doReq(t, cl, http.MethodGet, srv.URL+"/g?i=1", "")
				require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
			}
			assert.Equal(t, serverCounts{requests: 7, unauth: 1}, srv.counts())
			recs := srv.records()
			assert.Equal(t, c.wantQOP, recs[1].auth["qop"])
			if srv.opaque != "" {
				assert.Equal(t, srv.opaque, recs[1].auth["opaque"])
			}
		})
	}
}

func TestPicksStrongestChallenge(t *testing.T) {
	for name, cfg := range map[string]func(*testServer){
		"separate headers":          func(s *testServer) { s.algorithms = []string{"MD5", "SHA-512-256", "SHA-256"} },
		"one header after Basic":    func(s *testServer) { s.algorithms = []string{"SHA-256", "MD5", "SHA-512-256"}; s.oneHeader = true },
		"sess counts with base":     func(s *testServer) { s.algorithms = []string{"MD5", "SHA-512-256-sess", "SHA-256"} },
		"unknown algorithm skipped": func(s *testServer) { s.algorithms = []string{"SHA-1", "SHA-256", "MD5"} },
	} {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, cfg)
			c, _ := newClient(t, srv.user, srv.pass)
			resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
			require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
			want := "SHA-512-256"
			if name == "sess counts with base" {
				want = "SHA-512-256-sess"
			} else if name == "unknown algorithm skipped" {
				want = "SHA-256"
			}
			assert.Equal(t, want, srv.records()[1].auth["algorithm"])
		})
	}
}

func TestUnsupportedAlgorithmNamedInError(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) { s.algorithms = []string{"SHA-1"} })
	c, _ := newClient(t, "atlas-user", "sup3r-s3cret")
	_, err := c.Get(srv.URL + "/x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unsupported algorithm "SHA-1"`)
	assert.NotContains(t, err.Error(), "sup3r-s3cret")
	assert.NotContains(t, err.Error(), "atlas-user")
}

// failingBase refuses signed requests with an error, after noting the
// Authorization value it was given.
type failingBase struct {
	base http.RoundTripper
	mu   sync.Mutex
	auth []string
}

func (f *failingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	if a := r.Header.Get("Authorization"); a != "" {
		f.mu.Lock()
		f.auth = append(f.auth, a)
		f.mu.Unlock()
		closeBody(r.Body)
		return nil, errors.New("connection reset by peer")
	}
	return f.base.RoundTrip(r)
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	const pass = "Pa55-w0rd-XYZ"
	srv := newTestServer(t, func(s *testServer) { s.pass = pass })
	httpTr := &http.Transport{}
	t.Cleanup(httpTr.CloseIdleConnections)
	fb := &failingBase{base: httpTr}
	c := &http.Client{Transport: NewTransport(srv.user, pass, fb)}

	var errs []error
	_, err := c.Get(srv.URL + "/x")
	errs = append(errs, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/y", nil)
	_, err = c.Do(req)
	errs = append(errs, err)
	_, err = NewTransport("u", pass, nil).RoundTrip(&http.Request{Method: "GET", Header: http.Header{}})
	errs = append(errs, err)
	_, err = ParseChallenges([]string{`Digest realm="` + pass})
	errs = append(errs, err)

	require.NotEmpty(t, fb.auth)
	for _, err := range errs {
		require.Error(t, err)
		msg := err.Error()
		assert.NotContains(t, msg, pass)
		for _, a := range fb.auth {
			assert.NotContains(t, msg, a)
			_, rest, _ := strings.Cut(a, `response="`)
			resp, _, _ := strings.Cut(rest, `"`)
			assert.NotContains(t, msg, resp)
		}
	}
}

func TestProbeWithoutChallengeReturnedAsIs(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) { s.open = true })
	c, _ := newClient(t, srv.user, srv.pass)
	resp, body := doReq(t, c, http.MethodGet, srv.URL+"/public", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)
	resp, _ = doReq(t, c, http.MethodPost, srv.URL+"/public", "never-resent")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	recs := srv.records()
	require.Len(t, recs, 2, "no resend")
	assert.Empty(t, recs[1].body, "the probe carried no body")
}

// basicOnly answers 401 with a Basic challenge only.
func TestNonDigest401ReturnedAsIs(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := newTestServer(t, nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	c, _ := newClient(t, "u", "p")
	resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Basic realm="x"`, resp.Header.Get("WWW-Authenticate"))
	mu.Lock()
	assert.Equal(t, 1, hits)
	mu.Unlock()
}

func TestPresetAuthorizationPassesThrough(t *testing.T) {
	srv := newTestServer(t, nil)
	c, _ := newClient(t, srv.user, srv.pass)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	req.Header.Set("Authorization", "Bearer abc")
	resp, err := c.Do(req)
	require.NoError(t, err)
	drainClose(resp.Body)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 1, srv.counts().requests)
}

func TestNextNonceFollowed(t *testing.T) {
	srv := newTestServer(t, nil)
	inner := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One-time nonces: every success expires the nonce and names the next.
		inner.ServeHTTP(&nextNonceWriter{ResponseWriter: w, srv: srv}, r)
	})
	c, _ := newClient(t, srv.user, srv.pass)
	for i := 0; i < 5; i++ {
		resp, _ := doReq(t, c, http.MethodGet, srv.URL+"/x", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", srv.refusals())
	}
	assert.Equal(t, serverCounts{requests: 6, unauth: 1}, srv.counts())
}

// nextNonceWriter adds Authentication-Info: nextnonce to 200 responses and
// expires every older nonce. It runs inside testServer.serve, which holds
// srv.mu while it writes the response.
type nextNonceWriter struct {
	http.ResponseWriter
	srv *testServer
}

func (w *nextNonceWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		for _, ns := range w.srv.nonces {
			ns.expired = true
		}
		next := "next-" + time.Now().Format(time.RFC3339Nano)
		w.srv.nonces[next] = &nonceState{alg: w.srv.algorithms[0], issued: time.Now(), seen: map[uint32]bool{}}
		w.Header().Set("Authentication-Info", `rspauth="x", nextnonce="`+next+`"`)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *nextNonceWriter) Write(b []byte) (int, error) {
	if w.Header().Get("Authentication-Info") == "" && w.Header().Get("WWW-Authenticate") == "" {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func TestOriginKey(t *testing.T) {
	k := func(s string) originKey {
		u, err := url.Parse(s)
		require.NoError(t, err)
		return keyFor(u)
	}
	assert.Equal(t, k("http://example.com/a"), k("HTTP://Example.COM:80/b"))
	assert.Equal(t, k("https://example.com"), k("https://example.com:443/x"))
	assert.NotEqual(t, k("http://example.com"), k("https://example.com"))
	assert.NotEqual(t, k("http://example.com:8080"), k("http://example.com"))
	assert.Equal(t, originKey{"http", "::1", "8080"}, k("http://[::1]:8080/"))
}

type idleCounter struct {
	http.RoundTripper
	n int
}

func (c *idleCounter) CloseIdleConnections() { c.n++ }

func TestCloseIdleConnectionsForwards(t *testing.T) {
	ic := &idleCounter{}
	NewTransport("u", "p", ic).CloseIdleConnections()
	assert.Equal(t, 1, ic.n)
	// A base without the method is fine too.
	NewTransport("u", "p", roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil })).CloseIdleConnections()
	assert.Same(t, http.DefaultTransport, NewTransport("u", "p", nil).base)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
