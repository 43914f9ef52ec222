package digest

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// refHash is an independent (deliberately plain) implementation of the digest
// hash functions, used to check the package's output.
func refHash(alg, s string) string {
	var h hash.Hash
	switch strings.TrimSuffix(strings.ToUpper(alg), "-SESS") {
	case "", "MD5":
		h = md5.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-512-256":
		h = sha512.New512_256()
	default:
		panic("refHash: unknown algorithm " + alg)
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// refResponse computes the request-digest as written in RFC 7616 §3.4.1.
func refResponse(alg, user, pass, realm, nonce, method, uri, qop, nc, cnonce string, body []byte) string {
	ha1 := refHash(alg, user+":"+realm+":"+pass)
	if strings.HasSuffix(strings.ToLower(alg), "-sess") {
		ha1 = refHash(alg, ha1+":"+nonce+":"+cnonce)
	}
	a2 := method + ":" + uri
	if qop == "auth-int" {
		a2 += ":" + refHash(alg, string(body))
	}
	ha2 := refHash(alg, a2)
	if qop == "" {
		return refHash(alg, ha1+":"+nonce+":"+ha2)
	}
	return refHash(alg, strings.Join([]string{ha1, nonce, nc, cnonce, qop, ha2}, ":"))
}

// testServer is an httptest digest server that verifies every request.
type testServer struct {
	*httptest.Server

	user, pass, realm string
	algorithms        []string // one challenge per entry; "" sends no algorithm param
	qop               string   // raw qop value; "" omits qop (RFC 2069)
	opaque            string
	userhash          bool
	lifetime          time.Duration // 0: nonces never expire by age
	oneHeader         bool          // all challenges in one header value, after a Basic one
	challengeDelay    time.Duration // delay before answering an unauthenticated request
	open              bool          // serve requests without Authorization (no challenge)

	mu       sync.Mutex
	nonces   map[string]*nonceState
	log      []serverRecord
	requests int
	unauth   int // 401 responses
	stale    int // 401 responses with stale=true
}

type nonceState struct {
	alg     string
	issued  time.Time
	expired bool
	seen    map[uint32]bool
}

// serverRecord is what the server saw of one request.
type serverRecord struct {
	method        string
	uri           string
	body          string
	contentLength int64
	te            []string
	auth          map[string]string // Authorization params (nil if none)
	status        int
	reason        string // why a signed request was refused
}

func newTestServer(t testing.TB, configure func(*testServer)) *testServer {
	t.Helper()
	s := &testServer{
		user: "atlas-user", pass: "atlas-pass", realm: "MMS Public API",
		algorithms: []string{"MD5"}, qop: "auth",
		nonces: map[string]*nonceState{},
	}
	if configure != nil {
		configure(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) challenge(w http.ResponseWriter, stale bool) {
	var values []string
	for _, alg := range s.algorithms {
		var rnd [12]byte
		_, _ = rand.Read(rnd[:])
		nonce := hex.EncodeToString(rnd[:]) + "/=" // base64-ish characters, like Atlas
		s.nonces[nonce] = &nonceState{alg: alg, issued: time.Now(), seen: map[uint32]bool{}}
		v := fmt.Sprintf(`Digest realm="%s", domain="", nonce="%s"`, s.realm, nonce)
		if alg != "" {
			v += ", algorithm=" + alg
		}
		if s.qop != "" {
			v += fmt.Sprintf(`, qop="%s"`, s.qop)
		}
		if s.opaque != "" {
			v += fmt.Sprintf(`, opaque="%s"`, s.opaque)
		}
		if s.userhash {
			v += ", userhash=true"
		}
		v += ", stale=" + strconv.FormatBool(stale)
		values = append(values, v)
	}
	if s.oneHeader {
		values = []string{`Basic realm="other", ` + strings.Join(values, ", ")}
	}
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}
	s.unauth++
	if stale {
		s.stale++
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, `{"error":401,"reason":"Unauthorized"}`)
}

func (s *testServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := serverRecord{method: r.Method, uri: r.RequestURI, body: string(body), contentLength: r.ContentLength,
		te: r.TransferEncoding}
	authz := r.Header.Get("Authorization")
	if authz == "" && s.challengeDelay > 0 {
		time.Sleep(s.challengeDelay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	defer func() { s.log = append(s.log, rec) }()

	if authz == "" {
		if s.open {
			rec.status = http.StatusOK
			_, _ = w.Write(body)
			return
		}
		rec.status = http.StatusUnauthorized
		s.challenge(w, false)
		return
	}
	rec.auth = map[string]string{}
	ok, stale, reason := s.verify(r, authz, body, rec.auth)
	if !ok {
		rec.status, rec.reason = http.StatusUnauthorized, reason
		s.challenge(w, stale)
		return
	}
	rec.status = http.StatusOK
	w.Header().Set("X-Body-Len", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// verify checks one Authorization header; it fills params and tells whether
// to accept, and whether a refusal is only due to an expired nonce.
func (s *testServer) verify(r *http.Request, authz string, body []byte, params map[string]string) (ok, stale bool, reason string) {
	scheme, rest, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return false, false, "scheme " + scheme
	}
	ps, err := parseParams(rest)
	if err != nil {
		return false, false, "unparsable Authorization"
	}
	for _, p := range ps {
		if _, dup := params[strings.ToLower(p.name)]; dup {
			return false, false, "duplicate parameter " + p.name
		}
		params[strings.ToLower(p.name)] = p.value
	}
	ns := s.nonces[params["nonce"]]
	if ns == nil {
		return false, false, "unknown nonce"
	}
	if !strings.EqualFold(params["algorithm"], ns.alg) && !(ns.alg == "" && params["algorithm"] == "") {
		return false, false, "algorithm " + params["algorithm"] + " for a nonce issued with " + ns.alg
	}
	if params["realm"] != s.realm {
		return false, false, "realm"
	}
	if s.opaque != params["opaque"] {
		return false, false, "opaque not echoed"
	}
	wantUser := s.user
	if s.userhash {
		if params["userhash"] != "true" {
			return false, false, "userhash not set"
		}
		wantUser = refHash(ns.alg, s.user+":"+s.realm)
	}
	if params["username"] != wantUser {
		return false, false, "username"
	}
	if params["uri"] != r.RequestURI {
		return false, false, "uri " + params["uri"] + " != " + r.RequestURI
	}
	qop, nc, cnonce := params["qop"], params["nc"], params["cnonce"]
	if s.qop == "" {
		if qop != "" || nc != "" || cnonce != "" {
			return false, false, "qop sent to an RFC 2069 server"
		}
	} else {
		offered := false
		for _, q := range strings.Split(s.qop, ",") {
			offered = offered || strings.TrimSpace(q) == qop
		}
		if !offered || cnonce == "" || len(nc) != 8 {
			return false, false, "qop/nc/cnonce"
		}
		n, err := strconv.ParseUint(nc, 16, 32)
		if err != nil {
			return false, false, "nc"
		}
		if ns.seen[uint32(n)] {
			return false, false, "replayed nc " + nc
		}
		ns.seen[uint32(n)] = true
	}
	want := refResponse(ns.alg, s.user, s.pass, s.realm, params["nonce"], r.Method, params["uri"], qop, nc, cnonce, body)
	if params["response"] != want {
		return false, false, "bad response"
	}
	if ns.expired || (s.lifetime > 0 && time.Since(ns.issued) > s.lifetime) {
		return false, true, "stale nonce"
	}
	return true, false, ""
}

// expireAll makes every nonce issued so far stale.
func (s *testServer) expireAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ns := range s.nonces {
		ns.expired = true
	}
}

// forgetAll makes every nonce issued so far unknown (a 401 without stale).
func (s *testServer) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonces = map[string]*nonceState{}
}

type serverCounts struct{ requests, unauth, stale int }

func (s *testServer) counts() serverCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return serverCounts{s.requests, s.unauth, s.stale}
}

func (s *testServer) records() []serverRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]serverRecord(nil), s.log...)
}

// refusals lists why signed requests were refused (for failure messages).
func (s *testServer) refusals() []string {
	var out []string
	for _, r := range s.records() {
		if r.reason != "" {
			out = append(out, r.reason)
		}
	}
	return out
}
