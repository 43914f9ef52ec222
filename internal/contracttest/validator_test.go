package contracttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

const (
	specEnv      = "ATLASKEYS_SPEC"
	specRelPath  = "shared/spec/atlas-apikeys.openapi.yaml"
	specName     = "atlas-apikeys.openapi.yaml"
	apiPrefix    = "/api/atlas/v2"
	vendorJSON   = "application/vnd.atlas.2023-01-01+json"
	specHost     = "cloud.mongodb.com"
	specScheme   = "https"
	rawParamName = "ipAddress" // the path parameter whose pattern is written against the escaped segment
)

// findSpec returns the spec's path, or "" and a description of where it
// looked. ATLASKEYS_SPEC wins when set; otherwise every directory from the
// working directory up to the root is tried as <dir>/shared/spec/….
func findSpec() (path, lookedFor string) {
	if p := os.Getenv(specEnv); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, p
		}
		return "", p + " (from $" + specEnv + ")"
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", "<dir>/" + specRelPath + " (working directory unknown: " + err.Error() + ")"
	}
	for dir := wd; ; {
		p := filepath.Join(dir, filepath.FromSlash(specRelPath))
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", "<dir>/" + specRelPath + " for every <dir> from " + wd + " up to /, and $" + specEnv + " is unset"
}

var registerDecoder sync.Once

// Contract is the loaded spec with a router; it is read-only after
// loadContract and shared by every middleware.
type Contract struct {
	doc    *openapi3.T
	router routers.Router
	// rawPatterns maps "METHOD path-template" to the original pattern of
	// the {ipAddress} path parameter, checked against the escaped segment.
	rawPatterns map[string]*regexp.Regexp
}

// loadContract loads and validates the spec, moves the {ipAddress} patterns
// out of the document (see Contract.rawPatterns) and builds the router.
func loadContract(path string) (*Contract, error) {
	registerDecoder.Do(func() {
		openapi3filter.RegisterBodyDecoder(vendorJSON, openapi3filter.JSONBodyDecoder)
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validating %s: %w", path, err)
	}
	c := &Contract{doc: doc, rawPatterns: map[string]*regexp.Regexp{}}
	for tmpl, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, pr := range params {
				p := pr.Value
				if p == nil || p.In != openapi3.ParameterInPath || p.Name != rawParamName {
					continue
				}
				if p.Schema == nil || p.Schema.Value == nil || p.Schema.Value.Pattern == "" {
					return nil, fmt.Errorf("%s %s: path parameter %s has no pattern", method, tmpl, rawParamName)
				}
				re, err := regexp.Compile(p.Schema.Value.Pattern)
				if err != nil {
					return nil, fmt.Errorf("%s %s: pattern of %s does not compile: %w", method, tmpl, rawParamName, err)
				}
				c.rawPatterns[method+" "+tmpl] = re
				// kin-openapi would check the pattern against the
				// decoded value ("10.0.0.0/24"), but it is written for
				// the escaped segment ("10.0.0.0%2F24").
				p.Schema.Value.Pattern = ""
			}
		}
	}
	if len(c.rawPatterns) == 0 {
		return nil, fmt.Errorf("%s: no {%s} path parameter found", path, rawParamName)
	}
	if err := relaxErrorParameters(doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validating %s after moving the %s patterns: %w", path, rawParamName, err)
	}
	if c.router, err = gorillamux.NewRouter(doc); err != nil {
		return nil, fmt.Errorf("building the router: %w", err)
	}
	return c, nil
}

// operations counts the operations in the spec.
func (c *Contract) operations() int {
	n := 0
	for _, item := range c.doc.Paths.Map() {
		n += len(item.Operations())
	}
	return n
}

// Violation is one way a request or response broke the contract.
type Violation struct {
	Method, Path string // Path is the escaped path, without the query
	Status       int    // the response status, 0 for request violations
	Message      string
}

func (v Violation) String() string {
	if v.Status != 0 {
		return fmt.Sprintf("%s %s -> %d: %s", v.Method, v.Path, v.Status, v.Message)
	}
	return fmt.Sprintf("%s %s: %s", v.Method, v.Path, v.Message)
}

var (
	causeValues  = regexp.MustCompile(` \(value .*?\)(;|$)`)
	causeIndexes = regexp.MustCompile(`/[0-9]+(/|:)`)
)

// Cause is the violation's message without what varies between requests
// (values, array indexes), to group violations by root cause.
func (v Violation) Cause() string {
	m := causeValues.ReplaceAllString(v.Message, "$1")
	m = causeIndexes.ReplaceAllString(m, "/N$1")
	parts := strings.Split(m, "; ")
	out := parts[:1]
	for _, p := range parts[1:] {
		if !strings.HasSuffix(out[0], p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

// Tally counts what a middleware validated and collects violations. It is
// safe for concurrent use.
type Tally struct {
	mu         sync.Mutex
	requests   int // API requests validated (a route was found)
	responses  int // API responses validated
	nonAPI     int // requests outside /api/atlas/v2, not validated
	probes     int // digest probes validated without their (absent) body
	violations []Violation
	operations map[string]map[int]int // operationId -> status -> count
}

// Counts is a snapshot of a Tally.
type Counts struct {
	Requests, Responses, NonAPI, Probes int
	Violations                          []Violation
}

// Counts returns the counters and a copy of the violations.
func (t *Tally) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Counts{t.requests, t.responses, t.nonAPI, t.probes, append([]Violation(nil), t.violations...)}
}

// Operations returns, per operationId, the response statuses seen.
func (t *Tally) Operations() map[string][]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string][]int{}
	for id, st := range t.operations {
		for s := range st {
			out[id] = append(out[id], s)
		}
		sort.Ints(out[id])
	}
	return out
}

type tallies []*Tally

func (ts tallies) each(f func(*Tally)) {
	for _, t := range ts {
		t.mu.Lock()
		f(t)
		t.mu.Unlock()
	}
}

func (ts tallies) violate(v Violation) {
	ts.each(func(t *Tally) { t.violations = append(t.violations, v) })
}

// Middleware returns an atlastest middleware that validates each API
// request and response against the contract and records the outcome in
// every tally given.
func (c *Contract) Middleware(ts ...*Tally) func(http.Handler) http.Handler {
	all := tallies(ts)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != apiPrefix && !strings.HasPrefix(r.URL.Path, apiPrefix+"/") {
				all.each(func(t *Tally) { t.nonAPI++ })
				next.ServeHTTP(w, r)
				return
			}
			c.serve(all, next, w, r)
		})
	}
}

func (c *Contract) serve(all tallies, next http.Handler, w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	violate := func(status int, format string, args ...any) {
		all.violate(Violation{Method: r.Method, Path: escaped, Status: status, Message: fmt.Sprintf(format, args...)})
	}

	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			violate(0, "reading the request body: %v", err)
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}

	// Route a copy addressed to the spec's server.
	vreq := r.Clone(r.Context())
	vreq.URL.Scheme, vreq.URL.Host, vreq.Host = specScheme, specHost, specHost
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	vreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }

	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		violate(0, "no operation in the spec: %v", err)
		next.ServeHTTP(w, r)
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc, // auth is tested elsewhere
		IncludeResponseStatus: true,                                  // an undeclared status is a violation
		MultiError:            true,
		SkipSettingDefaults:   true,
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(r.Context(), in)
	// A digest client's first request can be a probe for the challenge:
	// no credentials and no body, even for a POST or PATCH whose body the
	// spec requires. Atlas answers it 401 before reading any body, so if the
	// answer is a Digest challenge the probe is judged without its body.
	var probeErr error
	probe := reqErr != nil && r.Header.Get("Authorization") == "" && len(body) == 0 && route.Operation.RequestBody != nil
	if probe {
		popts := *opts
		popts.ExcludeRequestBody = true
		pin := *in
		pin.Options = &popts
		probeErr = openapi3filter.ValidateRequest(r.Context(), &pin)
	}
	if re := c.rawPatterns[route.Method+" "+route.Path]; re != nil {
		seg, ok := rawSegment(route.Path, escaped, "{"+rawParamName+"}")
		switch {
		case !ok:
			violate(0, "request: cannot find the raw {%s} segment in %q", rawParamName, escaped)
		case !re.MatchString(seg):
			violate(0, "request: path parameter %s: raw segment %q does not match the spec's pattern %q", rawParamName, seg, re.String())
		case strings.Contains(unescapeOnce(seg), "%"):
			// The spec's first alternative is not anchored at the end, so it
			// accepts "192.0.2.0%252F24"; the README asks for one escape.
			violate(0, "request: path parameter %s: raw segment %q is escaped more than once", rawParamName, seg)
		}
	}

	rec := &recorder{ResponseWriter: w, header: http.Header{}}
	next.ServeHTTP(rec, r)
	status := rec.status
	if status == 0 && !rec.hijacked {
		// The handler wrote nothing: net/http sends an empty 200.
		status, rec.header = http.StatusOK, w.Header().Clone()
	}

	if probe && status == http.StatusUnauthorized && hasDigestChallenge(rec.header) {
		reqErr = probeErr
		all.each(func(t *Tally) { t.probes++ })
	}
	if reqErr != nil {
		violate(0, "request: %s", describe(reqErr))
	}
	all.each(func(t *Tally) { t.requests++ })
	if rec.hijacked {
		return // a dropped connection: there is no response to validate
	}
	all.each(func(t *Tally) {
		if t.operations == nil {
			t.operations = map[string]map[int]int{}
		}
		id := route.Operation.OperationID
		if t.operations[id] == nil {
			t.operations[id] = map[int]int{}
		}
		t.operations[id][status]++
	})

	ropts := *opts
	if status == http.StatusNoContent {
		// The spec declares the 204s with a media type but no schema; a 204
		// has no body and so no Content-Type, which kin-openapi would report
		// as an unexpected content type. Check the emptiness here instead.
		ropts.ExcludeResponseBody = true
		if rec.body.Len() != 0 {
			violate(status, "response: 204 with a %d-byte body", rec.body.Len())
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 rec.header,
		Options:                &ropts,
	}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		violate(status, "response: %s", describe(err))
	}
	all.each(func(t *Tally) { t.responses++ })
}

func unescapeOnce(seg string) string {
	if u, err := url.PathUnescape(seg); err == nil {
		return u
	}
	return seg
}

func hasDigestChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		if len(v) >= 7 && strings.EqualFold(v[:7], "Digest ") {
			return true
		}
	}
	return false
}

// rawSegment returns the segment of the escaped path that sits where param
// sits in the template.
func rawSegment(template, escaped, param string) (string, bool) {
	ts := strings.Split(template, "/")
	ps := strings.Split(escaped, "/")
	if len(ts) != len(ps) {
		return "", false
	}
	for i, s := range ts {
		if s == param {
			return ps[i], true
		}
	}
	return "", false
}

// describe renders kin-openapi's errors on one line, without the schema
// dumps: what failed, where, and the offending value.
func describe(err error) string {
	switch e := err.(type) {
	case openapi3.MultiError:
		parts := make([]string, len(e))
		for i, x := range e {
			parts[i] = describe(x)
		}
		return strings.Join(parts, "; ")
	case *openapi3filter.RequestError:
		where := "body"
		if p := e.Parameter; p != nil {
			where = fmt.Sprintf("%s parameter %q", p.In, p.Name)
		}
		return join(where, e.Reason, e.Err)
	case *openapi3filter.ResponseError:
		return join("", e.Reason, e.Err)
	case *openapi3.SchemaError:
		ptr := "/" + strings.Join(e.JSONPointer(), "/")
		return fmt.Sprintf("at %s: %s (value %s)", ptr, e.Reason, jsonValue(e.Value))
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func join(where, reason string, err error) string {
	var parts []string
	for _, p := range []string{where, reason} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if err != nil {
		parts = append(parts, describe(err))
	}
	return strings.Join(parts, ": ")
}

func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}

// recorder passes the response through and keeps a copy of its status,
// headers and body.
type recorder struct {
	http.ResponseWriter
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.header = w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Deviations lists, for the CI log, where the contract is knowingly relaxed.
var Deviations = []string{
	"ApiError.parameters items may be strings as well as objects: the spec says `items: {type: object}`, " +
		"but Atlas's error bodies carry the values named in `detail` as strings " +
		"(e.g. \"parameters\": [\"5f1…\"]), and atlastest follows Atlas",
}

// relaxErrorParameters lets ApiError.parameters hold strings or objects
// (see Deviations); everything else about the error body stays checked.
func relaxErrorParameters(doc *openapi3.T) error {
	ref := doc.Components.Schemas["ApiError"]
	if ref == nil || ref.Value == nil || ref.Value.Properties["parameters"] == nil || ref.Value.Properties["parameters"].Value == nil {
		return fmt.Errorf("no ApiError.parameters schema to relax")
	}
	params := ref.Value.Properties["parameters"].Value
	params.Items = openapi3.NewSchemaRef("", &openapi3.Schema{AnyOf: openapi3.SchemaRefs{
		openapi3.NewSchemaRef("", openapi3.NewStringSchema()),
		openapi3.NewSchemaRef("", openapi3.NewObjectSchema()),
	}})
	return nil
}
