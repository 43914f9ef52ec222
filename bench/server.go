// Package bench holds the benchmark suite that compares atlaskeys with the
// deprecated go.mongodb.org/atlas client and with a plain net/http floor,
// all against one in-process imitation of Atlas (Server). It is a separate
// module so that the library's dependency list stays as it is. See
// BENCHMARKS.md at the repository root and run.sh beside this file.
package bench

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server constants. The realm is Atlas's; the credentials are the ones every
// client in the suite uses.
const (
	Realm      = "MMS Public API"
	PublicKey  = "benchpub"
	PrivateKey = "00000000-1111-2222-3333-444444444444"
	OrgID      = "5f0c0ffee0c0ffee0c0ffee0"
	NumKeys    = 10000
	NonceTTL   = 5 * time.Minute

	v2Prefix = "/api/atlas/v2/orgs/"
	v1Prefix = "/api/atlas/v1.0/orgs/"
	// V2Accept is the Accept header the v2 paths require.
	V2Accept = "application/vnd.atlas.2023-01-01+json"
)

// Counts are the server's counters; Sub gives the difference of two
// snapshots.
type Counts struct {
	Requests     int64 // every request received
	Unauthorized int64 // 401 answers
	BodyBytes    int64 // request body bytes received (read in full)
}

// Sub returns c - o.
func (c Counts) Sub(o Counts) Counts {
	return Counts{c.Requests - o.Requests, c.Unauthorized - o.Unauthorized, c.BodyBytes - o.BodyBytes}
}

// Server imitates the part of Atlas that the suite calls: the digest
// challenge exactly as Atlas sends it, and the organization API keys
// resource on the v2 paths and on the legacy v1.0 paths, with 10,000 seeded
// keys. Responses are rendered by appending into pooled buffers so that the
// server adds as little as possible to the process-wide allocation counts
// that testing.B reports for the clients.
//
// Digest: every 401 carries a fresh nonce. A nonce is stateless: base64 of
// an 8-byte issue time, 8 random bytes and a 16-byte keyed SHA-256 tag, so
// the server needs no nonce table however many the old client makes it
// issue. A nonce is valid for NonceTTL; an expired one gets a 401 with
// stale=true. The response is verified in full (username, realm, uri equal
// to the request target, algorithm MD5, qop=auth, 8-hex nc, cnonce, and the
// MD5 request-digest). nc values are not tracked per nonce: Atlas does not
// document a replay check, and concurrent requests legitimately arrive out
// of nc order. That is what lets the floor client reuse one precomputed
// header per request target.
type Server struct {
	*httptest.Server

	ids     []string       // 24-hex key ids
	byID    map[string]int // id -> index
	ha1     string         // hex MD5(user:realm:pass)
	secret  [32]byte       // nonce tag key
	latency atomic.Int64   // injected delay per request, ns

	requests, unauthorized, bodyBytes atomic.Int64
	created                           atomic.Int64

	bufs sync.Pool
}

// NewServer starts the server on a loopback port.
func NewServer() *Server {
	s := &Server{byID: make(map[string]int, NumKeys)}
	if _, err := rand.Read(s.secret[:]); err != nil {
		panic(err)
	}
	sum := md5.Sum([]byte(PublicKey + ":" + Realm + ":" + PrivateKey))
	s.ha1 = hex.EncodeToString(sum[:])
	s.ids = make([]string, NumKeys)
	for i := range s.ids {
		s.ids[i] = keyID(i)
		s.byID[s.ids[i]] = i
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func keyID(i int) string {
	const prefix = "6000000000000000" // 16 + 8 = 24 hex digits
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(i))
	return prefix + hex.EncodeToString(b[:4])
}

// KeyID returns the id of seeded key i (0 <= i < NumKeys).
func (s *Server) KeyID(i int) string { return s.ids[i%NumKeys] }

// SetLatency sets the delay added to every request (0 for none).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Counts returns a snapshot of the counters.
func (s *Server) Counts() Counts {
	return Counts{s.requests.Load(), s.unauthorized.Load(), s.bodyBytes.Load()}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	buf := s.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			s.bufs.Put(buf)
		}
	}()
	// Read the whole body first, 401 or not, so that every byte the client
	// sent is counted (net/http would otherwise discard it unseen).
	buf.Reset()
	n, _ := buf.ReadFrom(r.Body)
	s.bodyBytes.Add(n)
	body := append([]byte(nil), buf.Bytes()...) // nil when empty
	buf.Reset()

	if d := s.latency.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	if ok, stale := s.verify(r); !ok {
		s.challenge(w, stale)
		return
	}

	path := r.URL.Path
	var v2 bool
	switch {
	case strings.HasPrefix(path, v2Prefix):
		v2, path = true, path[len(v2Prefix):]
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.atlas.") {
			s.fail(w, buf, v2, http.StatusNotAcceptable, "INVALID_VERSION_HEADER")
			return
		}
	case strings.HasPrefix(path, v1Prefix):
		path = path[len(v1Prefix):]
	default:
		s.fail(w, buf, false, http.StatusNotFound, "RESOURCE_NOT_FOUND")
		return
	}
	org, rest, _ := strings.Cut(path, "/")
	if org != OrgID {
		s.fail(w, buf, v2, http.StatusNotFound, "ORG_NOT_FOUND")
		return
	}
	coll, id, hasID := strings.Cut(rest, "/")
	if coll != "apiKeys" || (hasID && (id == "" || strings.Contains(id, "/"))) {
		s.fail(w, buf, v2, http.StatusNotFound, "RESOURCE_NOT_FOUND")
		return
	}
	switch {
	case hasID && r.Method == http.MethodGet:
		i, ok := s.byID[id]
		if !ok {
			s.fail(w, buf, v2, http.StatusNotFound, "API_KEY_NOT_FOUND")
			return
		}
		s.appendKey(buf, v2, i, "", nil, "")
		s.write(w, buf, v2, http.StatusOK)
	case !hasID && r.Method == http.MethodGet:
		s.list(w, r, buf, v2)
	case !hasID && r.Method == http.MethodPost:
		var in struct {
			Desc  string   `json:"desc"`
			Roles []string `json:"roles"`
		}
		if json.Unmarshal(body, &in) != nil || in.Desc == "" || len(in.Roles) == 0 {
			s.fail(w, buf, v2, http.StatusBadRequest, "INVALID_JSON")
			return
		}
		n := int(s.created.Add(1))
		var priv [16]byte
		_, _ = rand.Read(priv[:])
		p := hex.EncodeToString(priv[:])
		s.appendKey(buf, v2, NumKeys+n, in.Desc, in.Roles, p[:8]+"-"+p[8:12]+"-"+p[12:16]+"-"+p[16:20]+"-"+p[20:32])
		status := http.StatusOK // v2 answers a create with 200
		if !v2 {
			status = http.StatusCreated
		}
		s.write(w, buf, v2, status)
	default:
		s.fail(w, buf, v2, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, v2 bool) {
	q := r.URL.Query()
	page, per, count := 1, 100, true
	if v := q.Get("pageNum"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, buf, v2, http.StatusBadRequest, "INVALID_QUERY_PARAMETER")
			return
		}
		page = n
	}
	if v := q.Get("itemsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			s.fail(w, buf, v2, http.StatusBadRequest, "INVALID_QUERY_PARAMETER")
			return
		}
		per = n
	}
	if v := q.Get("includeCount"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(w, buf, v2, http.StatusBadRequest, "INVALID_QUERY_PARAMETER")
			return
		}
		count = b
	}
	from := min((page-1)*per, NumKeys)
	to := min(from+per, NumKeys)
	self := s.collURL(v2)
	b := buf.AvailableBuffer()
	b = append(b, `{"links":[{"href":"`...)
	b = appendPageURL(b, self, page, per)
	b = append(b, `","rel":"self"}`...)
	if to < NumKeys {
		b = append(b, `,{"href":"`...)
		b = appendPageURL(b, self, page+1, per)
		b = append(b, `","rel":"next"}`...)
	}
	if page > 1 {
		b = append(b, `,{"href":"`...)
		b = appendPageURL(b, self, page-1, per)
		b = append(b, `","rel":"previous"}`...)
	}
	b = append(b, `],"results":[`...)
	buf.Write(b)
	for i := from; i < to; i++ {
		if i > from {
			buf.WriteByte(',')
		}
		s.appendKey(buf, v2, i, "", nil, "")
	}
	buf.WriteByte(']')
	if count {
		b = buf.AvailableBuffer()
		b = append(b, `,"totalCount":`...)
		b = strconv.AppendInt(b, NumKeys, 10)
		buf.Write(b)
	}
	buf.WriteByte('}')
	s.write(w, buf, v2, http.StatusOK)
}

func appendPageURL(b []byte, self string, page, per int) []byte {
	b = append(b, self...)
	b = append(b, "?pageNum="...)
	b = strconv.AppendInt(b, int64(page), 10)
	b = append(b, "&itemsPerPage="...)
	return strconv.AppendInt(b, int64(per), 10)
}

func (s *Server) collURL(v2 bool) string {
	if v2 {
		return s.URL + v2Prefix + OrgID + "/apiKeys"
	}
	return s.URL + v1Prefix + OrgID + "/apiKeys"
}

// appendKey renders key i as Atlas does (private key redacted unless priv is
// given, as in a create answer).
func (s *Server) appendKey(buf *bytes.Buffer, v2 bool, i int, desc string, roles []string, priv string) {
	id := keyID(i)
	if i < NumKeys {
		id = s.ids[i]
	}
	b := buf.AvailableBuffer()
	b = append(b, `{"desc":`...)
	if desc == "" {
		b = append(b, `"bench key `...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '"')
	} else {
		b = appendJSONString(b, desc)
	}
	b = append(b, `,"id":"`...)
	b = append(b, id...)
	b = append(b, `","links":[{"href":"`...)
	b = append(b, s.URL...)
	if v2 {
		b = append(b, v2Prefix...)
	} else {
		b = append(b, v1Prefix...)
	}
	b = append(b, OrgID...)
	b = append(b, "/apiKeys/"...)
	b = append(b, id...)
	b = append(b, `","rel":"self"}],"privateKey":"`...)
	if priv != "" {
		b = append(b, priv...)
	} else {
		b = append(b, "********-****-****-"...)
		b = append(b, id[12:]...)
	}
	b = append(b, `","publicKey":"`...)
	for k := 0; k < 8; k++ { // 8 lower-case letters derived from i
		b = append(b, byte('a'+(i>>(k*2)+k)%26))
	}
	b = append(b, `","roles":[`...)
	if roles == nil {
		roles = defaultRoles
	}
	for k, r := range roles {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"orgId":"`...)
		b = append(b, OrgID...)
		b = append(b, `","roleName":`...)
		b = appendJSONString(b, r)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	buf.Write(b)
}

var defaultRoles = []string{"ORG_MEMBER", "ORG_READ_ONLY"}

func appendJSONString(b []byte, v string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

var (
	ctV2   = []string{"application/vnd.atlas.2023-01-01+json;charset=utf-8"}
	ctJSON = []string{"application/json"}
)

func (s *Server) write(w http.ResponseWriter, buf *bytes.Buffer, v2 bool, status int) {
	h := w.Header()
	if v2 {
		h["Content-Type"] = ctV2
	} else {
		h["Content-Type"] = ctJSON
	}
	var cl [20]byte
	h["Content-Length"] = []string{string(strconv.AppendInt(cl[:0], int64(buf.Len()), 10))}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) fail(w http.ResponseWriter, buf *bytes.Buffer, v2 bool, status int, code string) {
	buf.Reset()
	b := buf.AvailableBuffer()
	b = append(b, `{"detail":"benchmark server: `...)
	b = append(b, code...)
	b = append(b, `","error":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"errorCode":"`...)
	b = append(b, code...)
	b = append(b, `","parameters":[],"reason":"`...)
	b = append(b, http.StatusText(status)...)
	b = append(b, `"}`...)
	buf.Write(b)
	s.write(w, buf, v2, status)
}

// challenge answers 401 with a fresh nonce, in Atlas's exact format.
func (s *Server) challenge(w http.ResponseWriter, stale bool) {
	s.unauthorized.Add(1)
	v := `Digest realm="` + Realm + `", domain="", nonce="` + s.NewNonce(time.Now()) +
		`", algorithm=MD5, qop="auth", stale=` + strconv.FormatBool(stale)
	h := w.Header()
	h["Www-Authenticate"] = []string{v}
	h["Content-Type"] = ctJSON
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(unauthorizedBody)
}

var unauthorizedBody = []byte(`{"detail":"benchmark server: digest authentication required","error":401,"errorCode":"UNAUTHORIZED","parameters":[],"reason":"Unauthorized"}`)

// NewNonce issues a nonce stamped with t.
func (s *Server) NewNonce(t time.Time) string {
	var raw [32]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(t.UnixNano()))
	_, _ = rand.Read(raw[8:16])
	tag := s.tag(raw[:16])
	copy(raw[16:], tag[:16])
	return base64.StdEncoding.EncodeToString(raw[:])
}

func (s *Server) tag(msg []byte) [32]byte {
	var in [48]byte
	copy(in[:32], s.secret[:])
	copy(in[32:], msg)
	return sha256.Sum256(in[:])
}

// checkNonce reports whether nonce was issued by this server, and whether
// it is still fresh.
func (s *Server) checkNonce(nonce string) (ours, fresh bool) {
	var raw [33]byte
	if base64.StdEncoding.EncodedLen(32) != len(nonce) {
		return false, false
	}
	n, err := base64.StdEncoding.Decode(raw[:], []byte(nonce))
	if err != nil || n != 32 {
		return false, false
	}
	tag := s.tag(raw[:16])
	if subtle.ConstantTimeCompare(tag[:16], raw[16:32]) != 1 {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	return true, time.Since(issued) < NonceTTL
}

// digestParams are the fields of an Authorization: Digest header.
type digestParams struct {
	username, realm, nonce, uri, response, algorithm, qop, nc, cnonce, opaque string
}

// parseDigest splits an Authorization header into its parameters. Quoted
// values with backslash escapes are not expected from the clients here and
// are refused.
func parseDigest(h string) (p digestParams, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Digest") {
		return p, false
	}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return p, true
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, false
		}
		name := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return p, false
			}
			val = rest[1 : 1+end]
			if strings.IndexByte(val, '\\') >= 0 {
				return p, false
			}
			rest = rest[2+end:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		switch strings.ToLower(name) {
		case "username":
			p.username = val
		case "realm":
			p.realm = val
		case "nonce":
			p.nonce = val
		case "uri":
			p.uri = val
		case "response":
			p.response = val
		case "algorithm":
			p.algorithm = val
		case "qop":
			p.qop = val
		case "nc":
			p.nc = val
		case "cnonce":
			p.cnonce = val
		case "opaque":
			p.opaque = val
		}
	}
}

// verify checks the request's digest credentials. stale is true when the
// response was correct for a nonce of ours that has expired.
func (s *Server) verify(r *http.Request) (ok, stale bool) {
	return s.VerifyHeader(r.Header.Get("Authorization"), r.Method, r.RequestURI)
}

// VerifyHeader checks an Authorization header for a request with the given
// method and request target (path and query as sent on the request line).
func (s *Server) VerifyHeader(h, method, requestURI string) (ok, stale bool) {
	if h == "" {
		return false, false
	}
	p, parsed := parseDigest(h)
	if !parsed || p.username != PublicKey || p.realm != Realm || p.uri != requestURI ||
		(p.algorithm != "" && !strings.EqualFold(p.algorithm, "MD5")) ||
		p.qop != "auth" || len(p.nc) != 8 || p.cnonce == "" || len(p.response) != 32 {
		return false, false
	}
	if _, err := strconv.ParseUint(p.nc, 16, 32); err != nil {
		return false, false
	}
	ours, fresh := s.checkNonce(p.nonce)
	if !ours {
		return false, false
	}
	var want [32]byte
	expected := AppendResponse(want[:0], s.ha1, p.nonce, p.nc, p.cnonce, method, p.uri)
	if subtle.ConstantTimeCompare(expected, []byte(p.response)) != 1 {
		return false, false
	}
	if !fresh {
		return false, true
	}
	return true, false
}

// AppendResponse appends the hex MD5 qop=auth request-digest (RFC 2617
// §3.2.2.1) to dst.
func AppendResponse(dst []byte, ha1, nonce, nc, cnonce, method, uri string) []byte {
	var stack [512]byte
	b := append(stack[:0], method...)
	b = append(b, ':')
	b = append(b, uri...)
	a2 := md5.Sum(b)
	b = append(b[:0], ha1...)
	b = append(b, ':')
	b = append(b, nonce...)
	b = append(b, ':')
	b = append(b, nc...)
	b = append(b, ':')
	b = append(b, cnonce...)
	b = append(b, ":auth:"...)
	b = hex.AppendEncode(b, a2[:])
	sum := md5.Sum(b)
	return hex.AppendEncode(dst, sum[:])
}

// HA1 returns hex MD5(user:realm:pass) for the suite's credentials.
func HA1() string {
	sum := md5.Sum([]byte(PublicKey + ":" + Realm + ":" + PrivateKey))
	return hex.EncodeToString(sum[:])
}

// Authorization builds a complete Digest Authorization header for one
// request target with a fixed nc and cnonce. The floor client computes
// these once per target and reuses them.
func Authorization(nonce, method, uri string) string {
	const nc, cnonce = "00000001", "0a4f113b0a4f113b"
	resp := AppendResponse(nil, HA1(), nonce, nc, cnonce, method, uri)
	return `Digest username="` + PublicKey + `", realm="` + Realm + `", nonce="` + nonce +
		`", uri="` + uri + `", response="` + string(resp) + `", algorithm=MD5, qop=auth, nc=` + nc +
		`, cnonce="` + cnonce + `"`
}
