// Package digest implements an HTTP Digest access authentication client
// (RFC 7616, RFC 2617, RFC 2069) as an http.RoundTripper that caches the
// server's challenge per origin, so that a warm request costs one round trip.
package digest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Transport is an http.RoundTripper that authenticates requests with HTTP
// Digest credentials.
//
// The first request to an origin (scheme, host, port) sends a body-less probe
// to learn the challenge; concurrent first requests share that probe. Later
// requests are signed with the cached challenge directly, with nc counting up
// per nonce. A 401 to a request signed from the cache (or any 401 with
// stale=true) is answered once with the challenge it carries; a second 401 is
// returned to the caller as it is.
//
// Requests that already carry an Authorization header are passed to the base
// transport untouched. A Transport is safe for concurrent use.
type Transport struct {
	username string
	password string
	base     http.RoundTripper

	// accept, when non-nil, restricts the algorithms used (tests only).
	accept func(algorithm) bool

	mu       sync.Mutex
	cache    map[originKey]*entry
	inflight map[originKey]*probeCall
}

// originKey identifies a protection space's origin. The realm is learnt from
// the challenge, so one challenge is kept per origin.
type originKey struct {
	scheme, host, port string
}

// probeCall is a challenge probe shared by the requests that found the origin
// cold at the same time.
type probeCall struct {
	done chan struct{}
	// challenged is set (before done is closed) when the probe produced a
	// cache entry; otherwise waiters send their own probe.
	challenged bool
}

// NewTransport returns a RoundTripper that signs requests with digest
// credentials. base nil means http.DefaultTransport.
func NewTransport(username, password string, base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{
		username: username,
		password: password,
		base:     base,
		cache:    make(map[originKey]*entry),
		inflight: make(map[originKey]*probeCall),
	}
}

// CloseIdleConnections forwards to the base transport when it supports it.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func keyFor(u *url.URL) originKey {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return originKey{scheme: scheme, host: strings.ToLower(u.Hostname()), port: port}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req.Body)
		return nil, errors.New("digest: request has no URL")
	}
	if req.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(req)
	}
	body := newBodySource(req)
	key := keyFor(req.URL)

	t.mu.Lock()
	e := t.cache[key]
	t.mu.Unlock()
	fromCache := e != nil
	if e == nil {
		var resp *http.Response
		var err error
		e, resp, err = t.coldStart(req, key, body)
		if e == nil {
			body.closeUnused()
			return resp, err
		}
	}

	resp, err := t.sendSigned(req, e, body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		body.closeUnused()
		if err == nil {
			t.observeAuthInfo(key, e, resp)
		}
		return resp, err
	}

	// 401 to a signed request.
	chs, _ := ParseChallenges(resp.Header.Values("Www-Authenticate"))
	ch, perr := pickChallenge(chs, t.accept)
	if perr != nil {
		// No usable challenge: forget ours and hand the 401 back.
		t.forget(key, e)
		body.closeUnused()
		return resp, nil
	}
	if !fromCache && !ch.Stale {
		// A freshly learnt challenge was refused: wrong credentials. No loop.
		t.store(key, ch)
		body.closeUnused()
		return resp, nil
	}
	e2, err := t.store(key, ch)
	if err != nil {
		body.closeUnused()
		return resp, nil
	}
	drainClose(resp.Body)
	resp, err = t.sendSigned(req, e2, body)
	body.closeUnused()
	if err == nil {
		if resp.StatusCode == http.StatusUnauthorized {
			if chs, _ := ParseChallenges(resp.Header.Values("Www-Authenticate")); len(chs) > 0 {
				if ch, err := pickChallenge(chs, t.accept); err == nil {
					t.store(key, ch)
				}
			}
		} else {
			t.observeAuthInfo(key, e2, resp)
		}
	}
	return resp, err
}

// coldStart obtains a challenge for key, sharing one probe between concurrent
// callers. It returns either the entry to sign with, or the response (or
// error) to give the caller as it is.
func (t *Transport) coldStart(req *http.Request, key originKey, body *bodySource) (*entry, *http.Response, error) {
	ctx := req.Context()
	for {
		t.mu.Lock()
		if e := t.cache[key]; e != nil {
			t.mu.Unlock()
			return e, nil, nil
		}
		call := t.inflight[key]
		if call == nil {
			call = &probeCall{done: make(chan struct{})}
			t.inflight[key] = call
			t.mu.Unlock()
			return t.leadProbe(req, key, call)
		}
		t.mu.Unlock()

		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if !call.challenged {
			// The leader's probe taught nothing (no challenge, an error, or
			// its context ended): probe on our own, without sharing.
			return t.probe(req, key)
		}
		// Loop: the entry is in the cache now (unless it was already replaced
		// or dropped, in which case we start over).
	}
}

// leadProbe runs the shared probe and publishes its outcome.
func (t *Transport) leadProbe(req *http.Request, key originKey, call *probeCall) (e *entry, resp *http.Response, err error) {
	defer func() {
		t.mu.Lock()
		call.challenged = e != nil
		delete(t.inflight, key)
		t.mu.Unlock()
		close(call.done)
	}()
	return t.probe(req, key)
}

// probe sends req without body and credentials. A 401 with a usable Digest
// challenge yields a cache entry; any other response is returned as it is.
func (t *Transport) probe(req *http.Request, key originKey) (*entry, *http.Response, error) {
	p := new(http.Request)
	*p = *req
	p.Header = cloneHeader(req.Header, 0)
	delete(p.Header, "Content-Length")
	delete(p.Header, "Transfer-Encoding")
	p.Body = nil
	p.GetBody = nil
	p.ContentLength = 0
	p.TransferEncoding = nil

	resp, err := t.base.RoundTrip(p)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, resp, nil
	}
	chs, perr := ParseChallenges(resp.Header.Values("Www-Authenticate"))
	if len(chs) == 0 {
		if perr != nil {
			drainClose(resp.Body)
			return nil, nil, perr
		}
		return nil, resp, nil // 401 of another scheme: not ours to answer
	}
	ch, err := pickChallenge(chs, t.accept)
	if err != nil {
		drainClose(resp.Body)
		return nil, nil, err
	}
	e, err := t.store(key, ch)
	if err != nil {
		drainClose(resp.Body)
		return nil, nil, err
	}
	drainClose(resp.Body)
	return e, nil, nil
}

// store makes ch the cached challenge for key and returns its entry. When the
// cache already holds the same nonce, that entry is kept so that nc keeps
// rising for the nonce.
func (t *Transport) store(key originKey, ch Challenge) (*entry, error) {
	e, err := newEntry(t.username, t.password, ch)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.cache[key]; old != nil && sameChallenge(old.ch, ch) {
		return old, nil
	}
	t.cache[key] = e
	return e, nil
}

func sameChallenge(a, b Challenge) bool {
	return a.Nonce == b.Nonce && a.Realm == b.Realm && a.Opaque == b.Opaque &&
		a.Algorithm == b.Algorithm && a.UserHash == b.UserHash &&
		strings.Join(a.QOP, ",") == strings.Join(b.QOP, ",")
}

// forget drops e from the cache if it is still the current entry for key.
func (t *Transport) forget(key originKey, e *entry) {
	t.mu.Lock()
	if t.cache[key] == e {
		delete(t.cache, key)
	}
	t.mu.Unlock()
}

// observeAuthInfo follows a nextnonce in Authentication-Info (RFC 7615), so
// servers with one-time nonces stay at one round trip.
func (t *Transport) observeAuthInfo(key originKey, e *entry, resp *http.Response) {
	v := resp.Header.Get("Authentication-Info")
	if v == "" {
		return
	}
	params, _ := parseParams(v)
	for _, p := range params {
		if !strings.EqualFold(p.name, "nextnonce") || p.value == "" || p.value == e.ch.Nonce {
			continue
		}
		ch := e.ch
		ch.Nonce = p.value
		ch.Stale = false
		ne, err := newEntry(t.username, t.password, ch)
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.cache[key] == e {
			t.cache[key] = ne
		}
		t.mu.Unlock()
		return
	}
}

// sendSigned sends a clone of req signed with e, with the body replayed.
func (t *Transport) sendSigned(req *http.Request, e *entry, body *bodySource) (*http.Response, error) {
	var content []byte
	if e.qop == "auth-int" {
		b, err := body.bytes()
		if err != nil {
			return nil, err
		}
		content = b
	}
	auth, err := e.authorization(req.Method, req.URL.RequestURI(), content)
	if err != nil {
		return nil, err
	}
	r := new(http.Request)
	*r = *req
	r.Header = cloneHeader(req.Header, 1)
	r.Header["Authorization"] = []string{auth}
	if err := body.attach(r); err != nil {
		return nil, err
	}
	return t.base.RoundTrip(r)
}

func cloneHeader(h http.Header, extra int) http.Header {
	c := make(http.Header, len(h)+extra)
	if len(h) == 0 {
		return c
	}
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	all := make([]string, n)
	for k, vv := range h {
		if vv == nil {
			c[k] = nil
			continue
		}
		m := copy(all, vv)
		c[k] = all[:m:m]
		all = all[m:]
	}
	return c
}

// bodySource hands out the request body once per signed attempt.
type bodySource struct {
	orig     io.ReadCloser // the caller's body, not yet handed out; nil if none or used
	getBody  func() (io.ReadCloser, error)
	buf      []byte // whole body, once buffered
	buffered bool
}

func newBodySource(req *http.Request) *bodySource {
	if req.Body == nil || req.Body == http.NoBody {
		return &bodySource{}
	}
	return &bodySource{orig: req.Body, getBody: req.GetBody}
}

// empty reports whether the request has no body at all.
func (b *bodySource) empty() bool { return b.orig == nil && b.getBody == nil && !b.buffered }

// buffer reads the whole body into memory (once).
func (b *bodySource) buffer() error {
	if b.buffered || b.empty() {
		return nil
	}
	var rc io.ReadCloser
	if b.orig != nil {
		rc, b.orig = b.orig, nil
	} else {
		var err error
		if rc, err = b.getBody(); err != nil {
			return err
		}
	}
	data, err := io.ReadAll(rc)
	closeBody(rc)
	if err != nil {
		return err
	}
	b.buf, b.buffered, b.getBody = data, true, nil
	return nil
}

// bytes returns the whole body, buffering it if needed.
func (b *bodySource) bytes() ([]byte, error) {
	if err := b.buffer(); err != nil {
		return nil, err
	}
	return b.buf, nil
}

// attach sets r's body for one attempt: the caller's body the first time when
// it can be replayed through GetBody, else a fresh reader.
func (b *bodySource) attach(r *http.Request) error {
	switch {
	case b.empty():
		return nil
	case b.getBody == nil && !b.buffered:
		// No GetBody: buffer once so a retry can replay it.
		if err := b.buffer(); err != nil {
			return err
		}
	}
	if b.buffered {
		data := b.buf
		r.ContentLength = int64(len(data))
		r.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		if len(data) == 0 {
			r.Body = http.NoBody
		} else {
			r.Body = io.NopCloser(bytes.NewReader(data))
		}
		return nil
	}
	if b.orig != nil {
		r.Body, b.orig = b.orig, nil
		return nil
	}
	rc, err := b.getBody()
	if err != nil {
		return err
	}
	r.Body = rc
	return nil
}

// closeUnused closes the caller's body if it was never handed to the base
// transport (RoundTrip must always close it).
func (b *bodySource) closeUnused() {
	if b.orig != nil {
		closeBody(b.orig)
		b.orig = nil
	}
}

func closeBody(rc io.ReadCloser) {
	if rc != nil {
		_ = rc.Close()
	}
}

// drainClose discards (a bounded part of) a response body and closes it, so
// the connection can be reused.
func drainClose(rc io.ReadCloser) {
	if rc == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}
