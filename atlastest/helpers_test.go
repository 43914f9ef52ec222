package atlastest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// signer is a small test-only RFC 7616 digest signer (qop=auth), written
// independently of both the server and the client library.
type signer struct {
	user, pass string
	mu         sync.Mutex
	alg, nonce string
	nc         uint32
}

func (s *signer) learn(challenge string) {
	ps := parseAuthParams(strings.TrimPrefix(challenge, "Digest "))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonce, s.alg, s.nc = ps["nonce"], ps["algorithm"], 0
}

func hx(alg string, parts ...string) string {
	var h hash.Hash = md5.New()
	if strings.EqualFold(alg, "SHA-256") {
		h = sha256.New()
	}
	h.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(h.Sum(nil))
}

// header returns an Authorization value, or "" before the first challenge.
func (s *signer) header(method, uri string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonce == "" {
		return ""
	}
	s.nc++
	return s.headerWith(method, uri, fmt.Sprintf("%08x", s.nc))
}

func (s *signer) headerWith(method, uri, nc string) string {
	cnonce := "0a4f113b"
	ha1 := hx(s.alg, s.user, "MMS Public API", s.pass)
	ha2 := hx(s.alg, method, uri)
	resp := hx(s.alg, ha1, s.nonce, nc, cnonce, "auth", ha2)
	return fmt.Sprintf(`Digest username="%s", realm="MMS Public API", nonce="%s", uri="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s", response="%s"`,
		s.user, s.nonce, uri, s.alg, nc, cnonce, resp)
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (r resp) errorCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	return fmt.Sprint(m["errorCode"])
}

// client talks to the fake over the raw wire.
type client struct {
	t      *testing.T
	srv    *Server
	hc     *http.Client
	sign   *signer
	bearer string
	accept string
}

func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func newServer(t *testing.T, opts ...Option) (*Server, *client) {
	t.Helper()
	srv := NewServer(opts...)
	t.Cleanup(srv.Close)
	pub, priv := srv.AdminKey()
	return srv, keyClient(t, srv, pub, priv)
}

func keyClient(t *testing.T, srv *Server, pub, priv string) *client {
	return &client{t: t, srv: srv, hc: newHTTPClient(t), sign: &signer{user: pub, pass: priv}, accept: vendorMediaType}
}

func (c *client) once(method, path string, body any, auth string) resp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			require.NoError(c.t, err)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	require.NoError(c.t, err)
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	if body != nil {
		req.Header.Set("Content-Type", vendorMediaType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// do sends a request, answering one digest challenge if needed.
func (c *client) do(method, path string, body any) resp {
	c.t.Helper()
	if c.bearer != "" {
		return c.once(method, path, body, "Bearer "+c.bearer)
	}
	uri := requestURI(c.t, c.srv.URL+path)
	r := c.once(method, path, body, c.sign.header(method, uri))
	if r.status == http.StatusUnauthorized && strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Digest ") {
		c.sign.learn(r.header.Get("WWW-Authenticate"))
		r = c.once(method, path, body, c.sign.header(method, uri))
	}
	return r
}

func requestURI(t *testing.T, u string) string {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req.URL.RequestURI()
}

func (c *client) get(path string) resp          { return c.do(http.MethodGet, path, nil) }
func (c *client) post(path string, b any) resp  { return c.do(http.MethodPost, path, b) }
func (c *client) patch(path string, b any) resp { return c.do(http.MethodPatch, path, b) }
func (c *client) del(path string) resp          { return c.do(http.MethodDelete, path, nil) }
func orgKeys(org string) string                 { return "/api/atlas/v2/orgs/" + org + "/apiKeys" }
func orgKey(org, id string) string              { return orgKeys(org) + "/" + id }
func accessList(org, id string) string          { return orgKey(org, id) + "/accessList" }
func groupKeys(g string) string                 { return "/api/atlas/v2/groups/" + g + "/apiKeys" }
func groupKey(g, id string) string              { return groupKeys(g) + "/" + id }
func results(t *testing.T, r resp) []any        { return r.json(t)["results"].([]any) }
func field(m any, k string) string              { return fmt.Sprint(m.(map[string]any)[k]) }
func createBody(desc string, roles ...string) any {
	return map[string]any{"desc": desc, "roles": roles}
}
