package digest

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Interop tests against real digest servers on loopback, started with the
// scripts in shared/peers (see shared/peers/README.md). They skip when the
// server binary or the peers directory is missing.

const (
	peerUser = "atlas-user"
	peerPass = "atlas-pass"
)

// peersDir finds shared/peers: $ATLASKEYS_PEERS_DIR, else <ancestor>/shared/peers
// for the package directory or any of its parents.
func peersDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ATLASKEYS_PEERS_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		cand := filepath.Join(dir, "shared", "peers")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/peers not found: set ATLASKEYS_PEERS_DIR")
		}
		dir = parent
	}
}

func haveBinary(name string) bool {
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	_, err := os.Stat("/usr/sbin/" + name)
	return err == nil
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())
	return port
}

type peer struct {
	baseURL, stateDir, accessLog string
}

// startPeer runs `bash <peers>/<name>/run.sh start --port P args...` and stops
// the server in t.Cleanup.
func startPeer(t *testing.T, name string, args ...string) *peer {
	t.Helper()
	script := filepath.Join(peersDir(t), name, "run.sh")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("%s not found", script)
	}
	port := freePort(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = exec.CommandContext(ctx, "bash", script, "stop", "--port", port).Run()
	})
	// Output goes to a file, not a pipe: the daemon could keep a pipe open.
	out, err := os.CreateTemp(t.TempDir(), "peer-*.out")
	require.NoError(t, err)
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script, "start", "--port", port}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	text, _ := os.ReadFile(out.Name())
	require.NoError(t, runErr, "%s start: %s", name, text)
	p := &peer{}
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "BASE_URL="); ok {
			p.baseURL = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "STATE_DIR="); ok {
			p.stateDir = strings.TrimSpace(v)
		}
	}
	require.NotEmpty(t, p.baseURL, "%s start printed no BASE_URL: %s", name, text)
	require.NotEmpty(t, p.stateDir)
	p.accessLog = filepath.Join(p.stateDir, "access.log")
	if name == "lighttpd-digest" {
		p.accessLog = filepath.Join(p.stateDir, "logs", "access.log")
	}
	return p
}

func startApache(t *testing.T, args ...string) *peer {
	t.Helper()
	if !haveBinary("apache2") && !haveBinary("httpd") {
		t.Skip("apache2 not installed: apt-get install -y --no-install-recommends apache2 apache2-utils")
	}
	return startPeer(t, "apache-digest", args...)
}

func startLighttpd(t *testing.T, args ...string) *peer {
	t.Helper()
	if !haveBinary("lighttpd") {
		t.Skip("lighttpd not installed: apt-get install -y --no-install-recommends lighttpd")
	}
	return startPeer(t, "lighttpd-digest", args...)
}

var logStatus = regexp.MustCompile(`" (\d{3}) `)

// logStatuses returns the status of every request in the access log, in order.
func (p *peer) logStatuses(t *testing.T) []int {
	t.Helper()
	f, err := os.Open(p.accessLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := logStatus.FindStringSubmatch(sc.Text()); m != nil {
			code, _ := strconv.Atoi(m[1])
			out = append(out, code)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// waitLog waits until the access log has at least want requests (lighttpd
// writes it every few seconds), then returns the statuses.
func (p *peer) waitLog(t *testing.T, want int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := p.logStatuses(t); len(st) >= want || time.Now().After(deadline) {
			time.Sleep(100 * time.Millisecond) // catch any extra line
			return p.logStatuses(t)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counts tallies statuses: requests and 401s.
func counts(statuses []int) (requests, unauth int) {
	for _, s := range statuses {
		if s == http.StatusUnauthorized {
			unauth++
		}
	}
	return len(statuses), unauth
}

// recorder notes what went over the wire: the Authorization sent and the
// status and WWW-Authenticate received, per request.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	legs []leg
}

type leg struct {
	auth      string
	status    int
	challenge []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	l := leg{auth: req.Header.Get("Authorization")}
	if err == nil {
		l.status, l.challenge = resp.StatusCode, resp.Header.Values("Www-Authenticate")
	}
	r.mu.Lock()
	r.legs = append(r.legs, l)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) CloseIdleConnections() {
	if c, ok := r.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (r *recorder) snapshot() []leg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]leg(nil), r.legs...)
}

// authField returns one parameter of an Authorization value (so that failure
// messages never print the whole header).
func authField(t *testing.T, authz, name string) string {
	t.Helper()
	ps, err := parseParams(strings.TrimPrefix(authz, "Digest "))
	require.NoError(t, err)
	for _, p := range ps {
		if strings.EqualFold(p.name, name) {
			return p.value
		}
	}
	return ""
}

func newPeerClient(t *testing.T, user, pass string) (*http.Client, *Transport, *recorder) {
	t.Helper()
	base := &http.Transport{}
	rec := &recorder{base: base}
	tr := NewTransport(user, pass, rec)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}, tr, rec
}

// checkPeer runs the common interop checks: n GETs cost n+1 requests, a POST
// body arrives intact in one request, a wrong password gets its 401 after 2
// requests. The peer's access log must show exactly that sequence.
func checkPeer(t *testing.T, p *peer, wantAlg string) {
	c, _, rec := newPeerClient(t, peerUser, peerPass)
	const n = 5
	for i := 0; i < n; i++ {
		resp, body := doReq(t, c, http.MethodGet, p.baseURL+"/api/atlas/v2/orgs/abc/apiKeys", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Contains(t, body, "peer test key")
	}
	legs := rec.snapshot()
	require.Len(t, legs, n+1)
	assert.Equal(t, wantAlg, authField(t, legs[1].auth, "algorithm"))

	const payload = `{"desc":"interop key","roles":["ORG_MEMBER"]}`
	resp, body := doReq(t, c, http.MethodPost, p.baseURL+"/api/atlas/v2/orgs/abc/apiKeys", payload)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, payload+"\n", body, "the echo CGI adds a newline")
	assert.Equal(t, http.MethodPost, resp.Header.Get("X-Peer-Method"))
	assert.Equal(t, peerUser, resp.Header.Get("X-Peer-Remote-User"))
	assert.Len(t, rec.snapshot(), n+2, "warm POST is one request")

	bad, _, _ := newPeerClient(t, peerUser, "wrong-pass")
	resp, _ = doReq(t, bad, http.MethodGet, p.baseURL+"/api/atlas/v2/groups", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	want := []int{401}
	for i := 0; i < n+1; i++ {
		want = append(want, 200) // n GETs + 1 POST, all signed from the cache
	}
	want = append(want, 401, 401) // wrong password: probe + signed, no loop
	assert.Equal(t, want, p.waitLog(t, len(want)), "access log statuses")
}

func TestInteropApache(t *testing.T) {
	t.Parallel()
	p := startApache(t)
	checkPeer(t, p, "MD5")
}

func TestInteropApacheStale(t *testing.T) {
	t.Parallel()
	p := startApache(t, "--nonce-lifetime", "2")
	c, _, rec := newPeerClient(t, peerUser, peerPass)
	resp, _ := doReq(t, c, http.MethodGet, p.baseURL+"/api/atlas/v2/groups", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	time.Sleep(3 * time.Second)
	resp, body := doReq(t, c, http.MethodPost, p.baseURL+"/api/atlas/v2/groups", `{"name":"p"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "{\"name\":\"p\"}\n", body)
	legs := rec.snapshot()
	require.Len(t, legs, 4, "probe, 200, stale 401, re-signed 200")
	assert.Equal(t, http.StatusUnauthorized, legs[2].status)
	assert.Contains(t, strings.Join(legs[2].challenge, " "), "stale=true")
	assert.Equal(t, http.StatusOK, legs[3].status)
	assert.Equal(t, []int{401, 200, 401, 200}, p.waitLog(t, 4))
}

// TestInteropApacheNCCheck: with AuthDigestNcCheck, nc must rise per nonce; the
// challenge also carries opaque, which must be echoed.
func TestInteropApacheNCCheck(t *testing.T) {
	t.Parallel()
	p := startApache(t, "--nc-check")
	c, _, rec := newPeerClient(t, peerUser, peerPass)
	for i := 0; i < 5; i++ {
		resp, _ := doReq(t, c, http.MethodGet, p.baseURL+"/api/atlas/v2/groups", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	legs := rec.snapshot()
	require.Len(t, legs, 6)
	assert.Equal(t, "00000005", authField(t, legs[5].auth, "nc"))
	assert.NotEmpty(t, authField(t, legs[5].auth, "opaque"))
}

// TestInteropApacheOneTimeNonce: one-time nonces, each 200 names the next one
// in Authentication-Info; following nextnonce keeps one request per call.
func TestInteropApacheOneTimeNonce(t *testing.T) {
	t.Parallel()
	p := startApache(t, "--nonce-lifetime", "0")
	c, _, _ := newPeerClient(t, peerUser, peerPass)
	for i := 0; i < 4; i++ {
		resp, _ := doReq(t, c, http.MethodGet, p.baseURL+"/api/atlas/v2/groups", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	reqs, unauth := counts(p.waitLog(t, 5))
	assert.Equal(t, 5, reqs)
	assert.Equal(t, 1, unauth)
}

func TestInteropLighttpdSHA256(t *testing.T) {
	t.Parallel()
	p := startLighttpd(t)
	checkPeer(t, p, "SHA-256")
}

func TestInteropLighttpdUserhash(t *testing.T) {
	t.Parallel()
	p := startLighttpd(t, "--userhash")
	c, _, rec := newPeerClient(t, peerUser, peerPass)
	resp, body := doReq(t, c, http.MethodPost, p.baseURL+"/api/atlas/v2/groups", `{"u":1}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "{\"u\":1}\n", body)
	legs := rec.snapshot()
	require.Len(t, legs, 2)
	assert.Equal(t, "true", authField(t, legs[1].auth, "userhash"))
	assert.NotEqual(t, peerUser, authField(t, legs[1].auth, "username"))
	assert.Len(t, authField(t, legs[1].auth, "username"), 64)
}

func TestInteropLighttpdSHA512_256(t *testing.T) {
	t.Parallel()
	p := startLighttpd(t, "--algorithm", "SHA-512-256")
	c, _, rec := newPeerClient(t, peerUser, peerPass)
	resp, body := doReq(t, c, http.MethodGet, p.baseURL+"/api/atlas/v2/groups", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "SHA-512-256", authField(t, rec.snapshot()[1].auth, "algorithm"))
}

// TestInteropLighttpdMultiChallenge: two challenges (SHA-256 then MD5, with
// userhash). The client picks SHA-256; restricted to MD5, it falls back.
func TestInteropLighttpdMultiChallenge(t *testing.T) {
	t.Parallel()
	p := startLighttpd(t, "--algorithm", "SHA-256|MD5", "--userhash")
	c, _, rec := newPeerClient(t, peerUser, peerPass)
	resp, _ := doReq(t, c, http.MethodGet, p.baseURL+"/api/atlas/v2/groups", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	legs := rec.snapshot()
	require.Len(t, legs, 2)
	assert.Len(t, legs[0].challenge, 2)
	assert.Equal(t, "SHA-256", authField(t, legs[1].auth, "algorithm"))

	md5c, md5t, md5rec := newPeerClient(t, peerUser, peerPass)
	md5t.accept = func(a algorithm) bool { return a.hash == hashMD5 }
	resp, body := doReq(t, md5c, http.MethodPost, p.baseURL+"/api/atlas/v2/groups", `{"md5":true}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "{\"md5\":true}\n", body)
	legs = md5rec.snapshot()
	require.Len(t, legs, 2)
	assert.Equal(t, "MD5", authField(t, legs[1].auth, "algorithm"))
}

// TestInteropLighttpdStale: lighttpd nonces carry their issue time in hex; a
// cached nonce stamped long ago draws 401 stale=true, answered once.
func TestInteropLighttpdStale(t *testing.T) {
	t.Parallel()
	p := startLighttpd(t)
	c, tr, rec := newPeerClient(t, peerUser, peerPass)
	req, err := http.NewRequest(http.MethodGet, p.baseURL+"/api/atlas/v2/groups", nil)
	require.NoError(t, err)
	_, err = tr.store(keyFor(req.URL), Challenge{Realm: "MMS Public API", Algorithm: "SHA-256", QOP: []string{"auth"},
		Nonce: "5f000000:0000000000000000000000000000000000000000000000000000000000000000"})
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	drainClose(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	legs := rec.snapshot()
	require.Len(t, legs, 2)
	assert.Equal(t, http.StatusUnauthorized, legs[0].status)
	assert.Contains(t, strings.Join(legs[0].challenge, " "), "stale=true")
}
