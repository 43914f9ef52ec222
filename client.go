// Package atlaskeys is a typed client for the MongoDB Atlas Admin API v2
// Programmatic API Keys resource: organization API keys, their IP access
// lists, and their assignment to projects.
//
// Create a Client with NewClient and an authentication option, then call the
// services OrgAPIKeys, AccessList and ProjectAPIKeys:
//
//	c, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(publicKey, privateKey))
//	key, _, err := c.OrgAPIKeys.Get(ctx, orgID, keyID)
//
// Every method takes a context first, validates its input before sending
// anything, and returns an *APIError for any non-2xx answer. The package
// atlastest is an in-memory Atlas to test code that uses this client.
package atlaskeys

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/seed243cb23e/atlaskeys/internal/digest"
	"github.com/seed243cb23e/atlaskeys/internal/retry"
)

// Version is this library's version, sent in the User-Agent header.
const Version = "0.1.0"

const (
	// DefaultBaseURL is Atlas's address.
	DefaultBaseURL = "https://cloud.mongodb.com"
	// DefaultAPIVersion is the Admin API v2 version date sent in Accept.
	DefaultAPIVersion = "2023-01-01"
	// DefaultMaxResponseBytes bounds how much of a response body is read.
	DefaultMaxResponseBytes = 32 << 20
	// maxErrorBodyBytes bounds how much of an error body is read.
	maxErrorBodyBytes = 64 << 10
)

// Client talks to the Atlas Admin API. It is safe for concurrent use by many
// goroutines; create one and share it.
type Client struct {
	// OrgAPIKeys manages an organization's API keys.
	OrgAPIKeys *OrgAPIKeysService
	// AccessList manages an API key's IP access list.
	AccessList *AccessListService
	// ProjectAPIKeys manages API keys' assignments to projects.
	ProjectAPIKeys *ProjectAPIKeysService

	hc          *http.Client
	apiRoot     string // base URL + "/api/atlas/v2", no trailing slash
	accept      []string
	contentType []string
	userAgent   []string
	logger      *slog.Logger
	retry       RetryPolicy
	budget      *retry.Budget
	maxBody     int64
	close       func(context.Context) error
	ownConns    bool // the transport is ours, so Close may close its idle connections
}

type service struct{ client *Client }

// Option configures a Client in NewClient. The last option of a kind wins.
type Option func(*settings) error

type settings struct {
	publicKey, privateKey string
	clientID, secret      string
	baseURL               string
	hc                    *http.Client
	apiVersion            string
	userAgent             string
	logger                *slog.Logger
	retry                 RetryPolicy
	insecureHTTP          bool
	maxBody               int64
}

// WithDigestAuth authenticates with a programmatic API key over HTTP Digest:
// publicKey is the username, privateKey the password. The client caches
// Atlas's challenge, so in steady state each call is one HTTP round trip.
func WithDigestAuth(publicKey, privateKey string) Option {
	return func(s *settings) error {
		if publicKey == "" {
			return invalidArg("WithDigestAuth publicKey", "must not be empty")
		}
		if privateKey == "" {
			return invalidArg("WithDigestAuth privateKey", "must not be empty")
		}
		s.publicKey, s.privateKey = publicKey, privateKey
		return nil
	}
}

// WithBaseURL sets Atlas's address (default https://cloud.mongodb.com), for
// example the URL of an atlastest.Server. A path prefix is kept. A plain
// http:// URL is refused unless its host is loopback or WithInsecureHTTP is
// given, so credentials never travel in clear text by accident.
func WithBaseURL(rawURL string) Option {
	return func(s *settings) error {
		s.baseURL = rawURL
		return nil
	}
}

// WithInsecureHTTP allows a plain http:// base URL for a host that is not
// loopback. Digest never sends the private key itself, but requests,
// responses (including newly created private keys) and service-account
// tokens would cross the network unencrypted.
func WithInsecureHTTP() Option {
	return func(s *settings) error {
		s.insecureHTTP = true
		return nil
	}
}

// WithHTTPClient makes the client send requests through hc's transport,
// jar, redirect policy and timeout. hc is not modified: the client wraps a
// copy with its authentication.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return invalidArg("WithHTTPClient", "http.Client must not be nil")
		}
		s.hc = hc
		return nil
	}
}

var versionDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// WithAPIVersion sets the Admin API version date (default "2023-01-01"),
// sent as Accept: application/vnd.atlas.<version>+json and as the request
// bodies' Content-Type.
func WithAPIVersion(version string) Option {
	return func(s *settings) error {
		if !versionDate.MatchString(version) {
			return invalidArg("WithAPIVersion", fmt.Sprintf("%q is not a version date such as 2023-01-01", version))
		}
		if _, err := time.Parse(time.DateOnly, version); err != nil {
			return invalidArg("WithAPIVersion", fmt.Sprintf("%q is not a valid date", version))
		}
		s.apiVersion = version
		return nil
	}
}

// WithUserAgent puts ua before the library's own User-Agent
// ("atlaskeys/<version> (<go version>; <os>/<arch>)").
func WithUserAgent(ua string) Option {
	return func(s *settings) error {
		if strings.ContainsAny(ua, "\r\n") {
			return invalidArg("WithUserAgent", "must not contain line breaks")
		}
		s.userAgent = strings.TrimSpace(ua)
		return nil
	}
}

// WithLogger logs each HTTP attempt at debug level: method, path, status,
// duration and attempt number. Headers, bodies and credentials are never
// logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		s.logger = l
		return nil
	}
}

// WithMaxResponseBytes bounds how many bytes of a response body the client
// reads (default 32 MiB). A larger body fails the call with an error that
// matches ErrResponseTooLarge.
func WithMaxResponseBytes(n int64) Option {
	return func(s *settings) error {
		if n <= 0 {
			return invalidArg("WithMaxResponseBytes", "must be positive")
		}
		s.maxBody = n
		return nil
	}
}

// NewClient returns a client configured by opts. It makes no network call.
func NewClient(opts ...Option) (*Client, error) {
	s := settings{
		baseURL:    DefaultBaseURL,
		apiVersion: DefaultAPIVersion,
		retry:      DefaultRetryPolicy(),
		maxBody:    DefaultMaxResponseBytes,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	if s.publicKey != "" && s.clientID != "" {
		return nil, invalidArg("options", "WithDigestAuth and WithServiceAccount are alternatives; give one")
	}
	base, err := parseBaseURL(s.baseURL, s.insecureHTTP)
	if err != nil {
		return nil, err
	}
	if err := s.retry.normalize(); err != nil {
		return nil, err
	}

	c := &Client{
		apiRoot:     base + "/api/atlas/v2",
		accept:      []string{"application/vnd.atlas." + s.apiVersion + "+json"},
		contentType: []string{"application/vnd.atlas." + s.apiVersion + "+json"},
		userAgent:   []string{userAgent(s.userAgent)},
		logger:      s.logger,
		retry:       s.retry,
		maxBody:     s.maxBody,
		close:       func(context.Context) error { return nil },
	}
	if s.retry.Budget > 0 {
		c.budget = retry.NewBudget(s.retry.Budget)
	}

	var hc http.Client
	if s.hc != nil {
		hc = *s.hc // a copy: the caller's client is never modified
	} else {
		hc.CheckRedirect = noRedirects
		c.ownConns = true
	}
	next := hc.Transport
	if next == nil {
		if s.hc != nil {
			next = http.DefaultTransport
		} else {
			next = defaultTransport()
		}
	}
	switch {
	case s.publicKey != "":
		hc.Transport = digest.NewTransport(s.publicKey, s.privateKey, next)
	case s.clientID != "":
		t := newTokenTransport(base, s.clientID, s.secret, next)
		hc.Transport = t
		c.close = t.revoke
	default:
		hc.Transport = next
	}
	c.hc = &hc

	c.OrgAPIKeys = &OrgAPIKeysService{client: c}
	c.AccessList = &AccessListService{client: c}
	c.ProjectAPIKeys = &ProjectAPIKeysService{client: c}
	return c, nil
}

// Close releases what the client holds: with a service account it revokes
// the cached access token at Atlas; it closes the idle connections of the
// client's own transport (a transport given with WithHTTPClient may be
// shared, so it is left alone). The client must not be used after Close.
func (c *Client) Close(ctx context.Context) error {
	err := c.close(ctx)
	if c.ownConns {
		c.hc.CloseIdleConnections()
	}
	return err
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// defaultTransport is http.DefaultTransport with bounds fit for an unattended
// process: no step of a request can hang forever.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 64
	return t
}

func userAgent(prefix string) string {
	ua := "atlaskeys/" + Version + " (" + runtime.Version() + "; " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if prefix != "" {
		ua = prefix + " " + ua
	}
	return ua
}

func parseBaseURL(raw string, insecureOK bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalidArg("WithBaseURL", fmt.Sprintf("%q is not a URL: %v", raw, err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", invalidArg("WithBaseURL", fmt.Sprintf("%q must start with https:// (or http:// for loopback)", raw))
	case u.Host == "":
		return "", invalidArg("WithBaseURL", fmt.Sprintf("%q has no host", raw))
	case u.User != nil:
		return "", invalidArg("WithBaseURL", "must not hold credentials; use WithDigestAuth")
	case u.RawQuery != "" || u.Fragment != "":
		return "", invalidArg("WithBaseURL", fmt.Sprintf("%q must not have a query or fragment", raw))
	case strings.Contains(u.Path, "/api/atlas/"):
		return "", invalidArg("WithBaseURL", fmt.Sprintf("%q should be the server's address, without /api/atlas/…: the client adds the API path", raw))
	case u.Scheme == "http" && !insecureOK && !isLoopback(u.Hostname()):
		return "", invalidArg("WithBaseURL", fmt.Sprintf("refusing plain http:// to non-loopback host %q: use https://, or WithInsecureHTTP to opt in", u.Hostname()))
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Response is Atlas's answer to one call. It embeds the *http.Response
// (whose Body is already read and closed) and adds what Atlas tells in
// headers.
type Response struct {
	*http.Response
	// Attempts is how many HTTP attempts the call made (1 without retries).
	Attempts int
}

// RateLimit returns the RateLimit-Limit and RateLimit-Remaining headers; ok
// is false unless Atlas sent both as numbers.
func (r *Response) RateLimit() (limit, remaining int, ok bool) {
	if r == nil || r.Response == nil {
		return 0, 0, false
	}
	l, errL := strconv.Atoi(r.Header.Get("RateLimit-Limit"))
	rem, errR := strconv.Atoi(r.Header.Get("RateLimit-Remaining"))
	if errL != nil || errR != nil {
		return 0, 0, false
	}
	return l, rem, true
}

// call sends one API request, retrying as the policy allows, and decodes a
// 2xx JSON body into a new T.
func call[T any](ctx context.Context, c *Client, method, url string, body any) (*T, *Response, error) {
	return callDecode(ctx, c, method, url, body, func(dec func(any) error) (*T, error) {
		var v *T // a JSON null leaves it nil: no document, not a zero one
		err := dec(&v)
		return v, err
	})
}

// callPage is call for list operations: it decodes a Page in one pass.
func callPage[T any](ctx context.Context, c *Client, method, url string, body any) (*Page[T], *Response, error) {
	return callDecode(ctx, c, method, url, body, decodePage[T])
}

// callDecode sends the request and decodes the body with decode, which
// receives a streaming json.Decoder's Decode. A 2xx without a body where a
// document is owed is an error, never a nil result with a nil error.
func callDecode[T any](ctx context.Context, c *Client, method, url string, body any, decode func(func(any) error) (*T, error)) (*T, *Response, error) {
	var out *T
	resp, err := c.do(ctx, method, url, body, func(r io.Reader) error {
		v, err := decode(json.NewDecoder(r).Decode)
		out = v
		return err
	})
	if err != nil {
		return nil, resp, err
	}
	if out == nil {
		return nil, resp, fmt.Errorf("atlaskeys: %s %s: %d without a document (no body, or null) where JSON was expected: %w", method, pathOf(url), resp.StatusCode, ErrBadResponse)
	}
	return out, resp, nil
}

// failure classifies why an attempt failed, for the retry decision.
type failure int

const (
	failFinal   failure = iota // not retryable
	failStatus                 // 5xx: retry when the method is safe to repeat
	failLimited                // 429: always retryable, Atlas did not act
	failConn                   // transport error after the request may have left
	failNotSent                // transport error before the request left (dial, DNS)
)

func (c *Client) do(ctx context.Context, method, url string, body any, decode func(io.Reader) error) (*Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("atlaskeys: encoding %s request body: %w", method, err)
		}
	}
	p := c.retry
	var (
		resp *Response
		err  error
		kind failure
		cost int
	)
	for attempt := 1; ; attempt++ {
		var wait time.Duration
		resp, kind, wait, err = c.attempt(ctx, method, url, payload, decode, attempt)
		if resp != nil {
			resp.Attempts = attempt
		}
		if err == nil {
			if attempt > 1 {
				c.budget.Give(cost)
			} else {
				c.budget.Give(retry.Refund)
			}
			return resp, nil
		}
		if kind == failFinal {
			return resp, err
		}
		why := ""
		switch {
		case (kind == failStatus || kind == failConn) && !p.safeToRepeat(method):
			why = method + " is not retried once it may have reached Atlas"
		case attempt >= p.MaxAttempts:
			if p.MaxAttempts == 1 {
				why = "retries are off"
			}
		case wait > p.MaxRetryAfter:
			why = "Retry-After " + wait.String() + " exceeds the retry policy's MaxRetryAfter"
		default:
			cost = retry.CostRetry
			if kind == failConn || kind == failNotSent {
				cost = retry.CostTimeout
			}
			if !c.budget.Take(cost) {
				return resp, &attemptsError{attempts: attempt, why: "retry budget exhausted", budget: true, err: err}
			}
			if wait == 0 {
				wait = retry.Backoff(attempt, p.MinBackoff, p.MaxBackoff)
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				// The next attempt could only start after the deadline:
				// give up now rather than sleep until it passes.
				c.budget.Give(cost)
				return resp, fmt.Errorf("atlaskeys: %s %s: %w: the deadline comes before the next attempt (in %v); last error: %w",
					method, pathOf(url), context.DeadlineExceeded, wait.Round(time.Millisecond), err)
			}
			if serr := retry.Sleep(ctx, wait); serr != nil {
				return resp, fmt.Errorf("atlaskeys: %s %s: %w while waiting to retry after: %w", method, pathOf(url), serr, err)
			}
			continue
		}
		return resp, &attemptsError{attempts: attempt, why: why, err: err}
	}
}

// attempt makes one HTTP request and reports the outcome.
func (c *Client) attempt(ctx context.Context, method, url string, payload []byte, decode func(io.Reader) error, n int) (*Response, failure, time.Duration, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, failFinal, 0, fmt.Errorf("atlaskeys: building request: %w", err)
	}
	req.Header["Accept"] = c.accept
	req.Header["User-Agent"] = c.userAgent
	if payload != nil {
		req.Header["Content-Type"] = c.contentType
	}
	start := time.Now()
	hresp, err := c.hc.Do(req)
	if err != nil {
		c.log(ctx, req, 0, start, n, err)
		if cerr := ctx.Err(); cerr != nil {
			return nil, failFinal, 0, fmt.Errorf("atlaskeys: %s %s: %w", method, req.URL.EscapedPath(), cerr)
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			// The service-account token endpoint refused: nothing was sent.
			if apiErr.HTTPStatus == http.StatusTooManyRequests {
				wait, _ := retry.ParseRetryAfter(apiErr.RetryAfter, time.Now())
				return nil, failLimited, wait, apiErr
			}
			return nil, failFinal, 0, apiErr
		}
		kind := failConn
		switch {
		case badCertificate(err):
			kind = failFinal // the same certificate will fail again
		case neverSent(err):
			kind = failNotSent
		}
		return nil, kind, 0, fmt.Errorf("atlaskeys: %s %s: %w", method, req.URL.EscapedPath(), unwrapURLError(err))
	}
	// The transport's copy of the request carries the Authorization header;
	// point the response at ours, which never does, so printing a Response
	// cannot leak it.
	hresp.Request = req
	resp := &Response{Response: hresp}
	defer closeBody(hresp.Body)
	c.log(ctx, req, hresp.StatusCode, start, n, nil)

	if hresp.StatusCode < 200 || hresp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(hresp.Body, maxErrorBodyBytes))
		apiErr := newAPIError(hresp, body)
		switch {
		case hresp.StatusCode == http.StatusTooManyRequests:
			wait, _ := retry.ParseRetryAfter(apiErr.RetryAfter, time.Now())
			return resp, failLimited, wait, apiErr
		case hresp.StatusCode == 500 || hresp.StatusCode == 502 || hresp.StatusCode == 503 || hresp.StatusCode == 504:
			wait, _ := retry.ParseRetryAfter(apiErr.RetryAfter, time.Now())
			return resp, failStatus, wait, apiErr
		}
		return resp, failFinal, 0, apiErr
	}
	if decode == nil || hresp.StatusCode == http.StatusNoContent {
		return resp, failFinal, 0, nil
	}
	kind, wait, err := c.decode(hresp, decode)
	return resp, kind, wait, err
}

// decode streams a 2xx body into decode through the size limit and explains
// every way a body can be unusable.
func (c *Client) decode(hresp *http.Response, decode func(io.Reader) error) (failure, time.Duration, error) {
	where := hresp.Request.Method + " " + hresp.Request.URL.EscapedPath()
	ct := hresp.Header.Get("Content-Type")
	if ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		b, _ := io.ReadAll(io.LimitReader(hresp.Body, 512))
		return failFinal, 0, fmt.Errorf("atlaskeys: %s: %d with content type %q, not JSON: %q: %w", where, hresp.StatusCode, ct, snippet(b), ErrBadResponse)
	}
	lr := &limitedBody{r: hresp.Body, left: c.maxBody}
	err := decode(lr)
	switch {
	case err == nil:
		return failFinal, 0, nil
	case lr.tooLarge:
		return failFinal, 0, fmt.Errorf("atlaskeys: %s: response body exceeds %d bytes: %w", where, c.maxBody, ErrResponseTooLarge)
	case lr.readErr != nil:
		// The connection failed mid-body: the server acted, but repeating
		// a safe request is harmless.
		return failConn, 0, fmt.Errorf("atlaskeys: %s: reading response body: %w", where, lr.readErr)
	case lr.n == 0 && errors.Is(err, io.EOF):
		return failFinal, 0, fmt.Errorf("atlaskeys: %s: %d with an empty body where JSON was expected: %w", where, hresp.StatusCode, ErrBadResponse)
	default:
		return failFinal, 0, fmt.Errorf("atlaskeys: %s: decoding response body (%d bytes read): %v: %w", where, lr.n, err, ErrBadResponse)
	}
}

// limitedBody reads at most left bytes and remembers why reading stopped,
// so that a dropped connection, an oversized body and bad JSON are told apart.
type limitedBody struct {
	r        io.Reader
	left     int64
	n        int64
	tooLarge bool
	readErr  error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells "exactly at the limit" from "over it".
		var one [1]byte
		if k, _ := l.r.Read(one[:]); k > 0 {
			l.tooLarge = true
			return 0, ErrResponseTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	k, err := l.r.Read(p)
	l.n += int64(k)
	l.left -= int64(k)
	if err != nil && err != io.EOF {
		l.readErr = err
	}
	return k, err
}

// closeBody drains a little of what is left, so the connection can be
// reused, and closes the body.
func closeBody(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, 4<<10)
	_ = b.Close()
}

func (c *Client) log(ctx context.Context, req *http.Request, status int, start time.Time, attempt int, err error) {
	if c.logger == nil || !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("path", req.URL.EscapedPath()),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int("attempt", attempt),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", unwrapURLError(err).Error()))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "atlaskeys: request", attrs...)
}

// neverSent reports whether a transport error happened before the request
// could reach the server (dialing, DNS, getting a service-account token),
// so even a POST may be repeated.
func neverSent(err error) bool {
	var te *tokenError
	if errors.As(err, &te) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// badCertificate reports whether err is a TLS certificate verification
// failure: not transient, so never worth a retry.
func badCertificate(err error) bool {
	var cve *tls.CertificateVerificationError
	return errors.As(err, &cve)
}

// unwrapURLError drops *url.Error's "Get "https://…": " prefix: the method
// and path are added by the caller, and the query never reaches errors.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func pathOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.EscapedPath()
	}
	return ""
}

// RetryPolicy says when and how a failed call is repeated. Retries are on by
// default (DefaultRetryPolicy); WithRetryPolicy changes them and
// WithoutRetries turns them off.
//
// What is retried:
//   - 429 Too Many Requests, for every method: Atlas refused the request
//     without acting on it. Retry-After (seconds or an HTTP date) is honoured.
//   - 500, 502, 503, 504 and connection errors, for GET, DELETE and PATCH
//     only. Atlas's two PATCH operations set absolute values (a description,
//     a list of roles), so repeating one leaves the same state.
//   - A POST is never re-sent once it may have reached Atlas; it is retried
//     only after 429 or when the connection could not be made at all.
//   - A TLS certificate that fails verification is never retried.
//
// Waits use jittered exponential backoff and stop at once when the call's
// context is done. Zero fields take the values of DefaultRetryPolicy.
type RetryPolicy struct {
	// MaxAttempts is the most HTTP attempts per call, the first included.
	// 1 turns retries off.
	MaxAttempts int
	// MinBackoff is the wait before the first retry (doubled each retry,
	// jittered).
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts.
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; a
	// longer one ends the call with the 429 error instead.
	MaxRetryAfter time.Duration
	// Budget is the size of the client-wide retry budget in tokens: a retry
	// takes 5 (10 after a connection error); a call that succeeds gives back
	// what its last retry took, or 1 when it needed none. When it
	// runs dry, failing calls return at once instead of retrying, so many
	// goroutines cannot multiply the load on a struggling Atlas. A negative
	// value means unlimited.
	Budget int
}

// DefaultRetryPolicy is the policy a new Client uses: 4 attempts, backoff
// from 500ms to 30s, Retry-After honoured up to 2 minutes, a budget of 500
// tokens.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   4,
		MinBackoff:    500 * time.Millisecond,
		MaxBackoff:    30 * time.Second,
		MaxRetryAfter: 2 * time.Minute,
		Budget:        500,
	}
}

// normalize fills zero fields with the defaults and checks the rest.
func (p *RetryPolicy) normalize() error {
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MinBackoff == 0 {
		p.MinBackoff = d.MinBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = max(d.MaxBackoff, p.MinBackoff)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.Budget == 0 {
		p.Budget = d.Budget
	}
	switch {
	case p.MaxAttempts < 1:
		return invalidArg("RetryPolicy.MaxAttempts", "must be at least 1 (1 turns retries off)")
	case p.MinBackoff < 0 || p.MaxBackoff < 0 || p.MaxRetryAfter < 0:
		return invalidArg("RetryPolicy", "durations must not be negative")
	case p.MaxBackoff < p.MinBackoff:
		return invalidArg("RetryPolicy.MaxBackoff", "must not be below MinBackoff")
	}
	return nil
}

func (p RetryPolicy) safeToRepeat(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

// WithRetryPolicy sets the retry policy (see RetryPolicy).
func WithRetryPolicy(p RetryPolicy) Option {
	return func(s *settings) error {
		s.retry = p
		return nil
	}
}

// WithoutRetries turns retries off: every call makes one attempt (digest
// authentication may still answer a challenge once).
func WithoutRetries() Option {
	return func(s *settings) error {
		s.retry.MaxAttempts = 1
		return nil
	}
}
