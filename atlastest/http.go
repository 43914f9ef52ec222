package atlastest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string      // raw escaped path as received, e.g. ".../accessList/10.0.0.0%2F24"
	Query  string      // raw query string, without '?'
	Header http.Header // request headers as received
	Status int         // status sent (the status line written before a dropped connection)
	Auth   string      // "digest", "bearer", "basic", "other" or "none": what the request carried
	Stale  bool        // answered 401 with stale=true (expired or unknown nonce)
	Fault  bool        // an injected fault (status or dropped connection) answered it
	Time   time.Time   // when it arrived
}

// Stats are counters over the server's life (ResetRequests does not reset them).
type Stats struct {
	Requests            int // every HTTP request received
	Challenges          int // 401 responses carrying WWW-Authenticate
	StaleChallenges     int // of which stale=true
	ReplayedNonceCounts int // digest requests refused for a reused nc
	DigestAuthenticated int // requests accepted with digest credentials
	BearerAuthenticated int // requests accepted with a bearer token
	TokenRequests       int // POST /api/oauth/token calls
	TokensIssued        int
	TokenRateLimited    int // token requests refused with 429
	FaultsInjected      int // requests answered by an injected status or drop
	DroppedConnections  int
}

// Fault describes an injected failure. Faults are checked in the order they
// were injected, before authentication, against every request including the
// token endpoint; each applies to requests that match Method and Path. A
// digest client's first request to a server is an unsigned probe that draws
// the challenge, and it matches too: make one call before injecting a fault
// counted with Skip, or count the probe in.
type Fault struct {
	Method string // "" = any
	// Path is a path.Match glob against the decoded path (so %2F is a '/'),
	// e.g. "/api/atlas/v2/orgs/*/apiKeys/*/accessList"; when it ends in '*' it
	// also matches any deeper path (a prefix). "" = any.
	Path       string
	Skip       int           // let this many matching requests through first
	Count      int           // then affect this many (0 => 1)
	Status     int           // respond with this status and an Atlas error body (429 => RATE_LIMITED)
	RetryAfter string        // Retry-After header value when set
	Latency    time.Duration // delay before handling; with Status 0 and no drop it only delays
	// DropConnection writes a status line, headers and part of a JSON body,
	// then closes the connection mid-response.
	DropConnection bool
	// AfterHandling makes the server handle the request first, with every
	// effect it has on the fake's state, and only then answer with Status
	// or drop the connection: Atlas acted, but the caller never learns it.
	// Use it to test that a create is not repeated after a lost answer.
	AfterHandling bool
}

type faultState struct {
	f       Fault
	seen    int
	applied int
}

func (f *faultState) matches(r *http.Request) bool {
	if f.f.Method != "" && !strings.EqualFold(f.f.Method, r.Method) {
		return false
	}
	return f.f.Path == "" || pathMatches(f.f.Path, r.URL.Path)
}

func pathMatches(pattern, p string) bool {
	if ok, _ := path.Match(pattern, p); ok {
		return true
	}
	if !strings.HasSuffix(pattern, "*") {
		return false
	}
	ps, ss := strings.Split(pattern, "/"), strings.Split(p, "/")
	if len(ss) < len(ps) {
		return false
	}
	for i := range ps {
		if ok, _ := path.Match(ps[i], ss[i]); !ok {
			return false
		}
	}
	return true
}

// InjectFault queues a fault.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{f: f})
}

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetLatency delays every request by d (0 turns it off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireNonces makes every outstanding digest nonce stale: the next request
// signed with one gets 401 with stale=true.
func (s *Server) ExpireNonces() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonces = map[string]*nonceState{}
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// takeFaultLocked returns the fault that applies to r, if any.
func (s *Server) takeFaultLocked(r *http.Request) *Fault {
	for _, fs := range s.faults {
		if !fs.matches(r) {
			continue
		}
		if fs.seen < fs.f.Skip {
			fs.seen++
			continue
		}
		fs.applied++
		f := fs.f
		s.faults = slices.DeleteFunc(s.faults, func(x *faultState) bool { return x.applied >= x.f.Count })
		return &f
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func rawPath(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" || !strings.HasPrefix(p, "/") {
		p = r.URL.EscapedPath()
	}
	return p
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	entry := Request{
		Method: r.Method,
		Path:   rawPath(r),
		Query:  r.URL.RawQuery,
		Header: r.Header.Clone(),
		Auth:   authKind(r),
		Time:   s.cfg.now(),
	}
	rec := &statusRecorder{ResponseWriter: w}
	s.mu.Lock()
	s.stats.Requests++
	delay := s.latency
	f := s.takeFaultLocked(r)
	if f != nil {
		delay += f.Latency
	}
	s.mu.Unlock()
	defer func() {
		entry.Status = rec.status
		s.mu.Lock()
		s.requests = append(s.requests, entry)
		s.mu.Unlock()
	}()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closeCh:
			t.Stop()
			return
		}
	}
	if f != nil && f.AfterHandling && (f.DropConnection || f.Status != 0) {
		s.handle(httptest.NewRecorder(), r, &entry) // act, and lose the answer
	}
	if f != nil && f.DropConnection {
		entry.Fault = true
		s.mu.Lock()
		s.stats.FaultsInjected++
		s.stats.DroppedConnections++
		s.mu.Unlock()
		rec.status = s.drop(w, f)
		return
	}
	if f != nil && f.Status != 0 {
		entry.Fault = true
		s.mu.Lock()
		s.stats.FaultsInjected++
		s.mu.Unlock()
		e := newErr(f.Status, codeForStatus(f.Status), "Injected fault: "+http.StatusText(f.Status)+".")
		if f.RetryAfter != "" {
			e.header = map[string]string{"Retry-After": f.RetryAfter}
		}
		s.setRateHeaders(rec, r, "")
		writeAPIError(rec, e, respOpts{})
		return
	}

	s.handle(rec, r, &entry)
}

// handle answers a request that no fault intercepted.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, entry *Request) {
	switch r.URL.Path {
	case "/api/oauth/token":
		s.tokenEndpoint(w, r)
	case "/api/oauth/revoke":
		s.revokeEndpoint(w, r)
	default:
		s.serveAPI(w, r, entry)
	}
}

// drop writes the start of a response and closes the connection.
func (s *Server) drop(w http.ResponseWriter, f *Fault) int {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	ct := vendorMediaType
	if status >= 400 {
		ct = "application/json"
	}
	partial := `{"links":[{"href":"http://`
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No hijacker in the chain: promise more than we send, then abort.
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(partial))
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: 4096\r\n\r\n%s",
		status, http.StatusText(status), ct, partial)
	_ = buf.Flush()
	return status
}

// rateWindow counts one caller's requests in the current minute.
type rateWindow struct {
	start time.Time
	n     int
}

func (s *Server) setRateHeaders(w http.ResponseWriter, r *http.Request, caller string) {
	if caller == "" {
		caller, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	s.mu.Lock()
	now := s.cfg.now()
	rw := s.rateWin[caller]
	if rw == nil || now.Sub(rw.start) >= time.Minute {
		rw = &rateWindow{start: now}
		s.rateWin[caller] = rw
	}
	rw.n++
	remaining := max(s.cfg.rateLimit-rw.n, 0)
	s.mu.Unlock()
	w.Header().Set("RateLimit-Limit", strconv.Itoa(s.cfg.rateLimit))
	w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
}

// call carries one API request through its handler.
type call struct {
	r       *http.Request
	p       principal
	seg     []string // decoded path segments after /api/atlas/v2
	rawPath string
	base    string
	q       url.Values
	opts    respOpts
	body    []byte
}

type handlerFunc func(s *Server, c *call) (int, any, *apiErr)

type route struct {
	prefix  string // "orgs" or "groups"
	n       int    // number of segments
	tail    []string
	methods map[string]handlerFunc
}

var routes = []route{
	{"orgs", 3, []string{"apiKeys"}, map[string]handlerFunc{
		http.MethodGet: (*Server).listOrgKeys, http.MethodPost: (*Server).createOrgKey}},
	{"orgs", 4, []string{"apiKeys"}, map[string]handlerFunc{
		http.MethodGet: (*Server).getOrgKey, http.MethodPatch: (*Server).updateOrgKey, http.MethodDelete: (*Server).deleteOrgKey}},
	{"orgs", 5, []string{"apiKeys", "accessList"}, map[string]handlerFunc{
		http.MethodGet: (*Server).listAccess, http.MethodPost: (*Server).createAccess}},
	{"orgs", 6, []string{"apiKeys", "accessList"}, map[string]handlerFunc{
		http.MethodGet: (*Server).getAccess, http.MethodDelete: (*Server).deleteAccess}},
	{"groups", 3, []string{"apiKeys"}, map[string]handlerFunc{
		http.MethodGet: (*Server).listGroupKeys, http.MethodPost: (*Server).createGroupKey}},
	{"groups", 4, []string{"apiKeys"}, map[string]handlerFunc{
		http.MethodPost: (*Server).addGroupKey, http.MethodPatch: (*Server).updateGroupKey, http.MethodDelete: (*Server).removeGroupKey}},
}

func (rt route) match(seg []string) bool {
	if len(seg) != rt.n || seg[0] != rt.prefix || seg[2] != rt.tail[0] {
		return false
	}
	return len(rt.tail) == 1 || seg[4] == rt.tail[1]
}

func notFoundRoute(raw string) *apiErr {
	return newErr(http.StatusNotFound, "RESOURCE_NOT_FOUND", "Cannot find resource "+raw+".", raw)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, entry *Request) {
	raw := rawPath(r)
	q := r.URL.Query()
	opts := respOpts{pretty: q.Get("pretty") == "true", envelope: q.Get("envelope") == "true"}
	if raw != apiPrefix && !strings.HasPrefix(raw, apiPrefix+"/") {
		writeAPIError(w, notFoundRoute(raw), opts)
		return
	}

	s.mu.Lock()
	p, stale, aerr := s.authenticateLocked(r)
	s.mu.Unlock()
	entry.Stale = stale
	caller := ""
	if aerr == nil {
		caller = p.id()
	}
	s.setRateHeaders(w, r, caller)
	if aerr != nil {
		writeAPIError(w, aerr, opts)
		return
	}
	if !acceptable(r.Header.Values("Accept")) {
		writeAPIError(w, newErr(http.StatusNotAcceptable, "INVALID_VERSION_DATE", "Invalid accept header or version date."), opts)
		return
	}

	var seg []string
	for _, part := range strings.Split(strings.TrimPrefix(raw, apiPrefix+"/"), "/") {
		d, err := url.PathUnescape(part)
		if err != nil {
			writeAPIError(w, notFoundRoute(raw), opts)
			return
		}
		seg = append(seg, d)
	}
	var rt *route
	for i := range routes {
		if routes[i].match(seg) {
			rt = &routes[i]
			break
		}
	}
	if rt == nil {
		writeAPIError(w, notFoundRoute(raw), opts)
		return
	}
	h := rt.methods[r.Method]
	if h == nil {
		allow := make([]string, 0, len(rt.methods))
		for m := range rt.methods {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeAPIError(w, newErr(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
			fmt.Sprintf("Method %s is not allowed on %s.", r.Method, raw), r.Method), opts)
		return
	}
	c := &call{r: r, p: p, seg: seg, rawPath: raw, base: "http://" + r.Host, q: q, opts: opts}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if e := checkContentType(r.Header.Get("Content-Type")); e != nil {
			writeAPIError(w, e, opts)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeAPIError(w, newErr(http.StatusBadRequest, "INVALID_JSON", "The request body could not be read."), opts)
			return
		}
		c.body = b
	}
	s.mu.Lock()
	status, body, herr := h(s, c)
	s.mu.Unlock()
	if herr != nil {
		writeAPIError(w, herr, opts)
		return
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeBody(w, status, vendorMediaType, body, opts)
}
