package atlaskeys

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Ids shaped like Atlas's, used throughout the tests.
const (
	orgID   = "4888442a3354817a7320eb61"
	keyID   = "32b6e34b3d91647abb20e7b8"
	groupID = "5f1d2c3b4a5968778695a4b3"
)

// basePrefix is where the fake Atlas is mounted, so that a method that
// builds an absolute path instead of one below the base URL fails its test.
const basePrefix = "/base-prefix"

const wantMediaType = "application/vnd.atlas.2023-01-01+json"

// fixture is a client wired to an httptest server whose API handlers are
// registered on mux (paths as Atlas sees them, starting /api/atlas/v2).
type fixture struct {
	client *Client
	mux    *http.ServeMux
	url    string // base URL given to the client
	hits   atomic.Int64
}

// requests reports how many requests reached the server.
func (f *fixture) requests() int { return int(f.hits.Load()) }

// setup starts a fake Atlas and a client for it. Retries are off unless opts
// turn them on, so an error status is returned at once.
func setup(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{mux: http.NewServeMux()}
	outer := http.NewServeMux()
	outer.Handle(basePrefix+"/", http.StripPrefix(basePrefix, f.mux))
	outer.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base URL: %s %s", r.Method, r.URL.EscapedPath())
		http.Error(w, "outside base URL", http.StatusTeapot)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		outer.ServeHTTP(w, r)
	}))
	f.url = srv.URL + basePrefix
	all := append([]Option{WithBaseURL(f.url), WithoutRetries()}, opts...)
	c, err := NewClient(all...)
	require.NoError(t, err)
	f.client = c
	t.Cleanup(func() {
		_ = c.Close(context.Background())
		srv.Close()
	})
	return f
}

// newServer starts an httptest server with h and a client for it.
func newServer(t *testing.T, h http.HandlerFunc, opts ...Option) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	c, err := NewClient(append([]Option{WithBaseURL(srv.URL)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Close(context.Background())
		srv.Close()
	})
	return c, srv
}

// fastRetries is a retry policy that keeps tests quick.
func fastRetries(maxAttempts int) Option {
	return WithRetryPolicy(RetryPolicy{
		MaxAttempts: maxAttempts,
		MinBackoff:  time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
		Budget:      -1,
	})
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method, "method")
}

// testRawPath checks the path as it went on the wire, escapes included.
func testRawPath(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.URL.EscapedPath(), "escaped path")
}

// testBody checks that the request body is the JSON want, ignoring
// formatting and key order; want == "" means no body at all.
func testBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	got, err := io.ReadAll(r.Body)
	if !assert.NoError(t, err) {
		return
	}
	if want == "" {
		assert.Empty(t, got, "request body")
		return
	}
	assert.JSONEq(t, want, string(got), "request body")
}

// testHeaders checks the headers every request carries, and Content-Type
// exactly when there is a body.
func testHeaders(t *testing.T, r *http.Request, hasBody bool) {
	t.Helper()
	assert.Equal(t, wantMediaType, r.Header.Get("Accept"), "Accept")
	assert.Equal(t, defaultUA(), r.Header.Get("User-Agent"), "User-Agent")
	if hasBody {
		assert.Equal(t, wantMediaType, r.Header.Get("Content-Type"), "Content-Type")
	} else {
		assert.Empty(t, r.Header.Values("Content-Type"), "Content-Type without a body")
	}
	assert.Empty(t, r.Header.Values("Authorization"), "no credentials configured")
}

func defaultUA() string {
	return "atlaskeys/" + Version + " (" + runtime.Version() + "; " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// writeJSON answers with status and a JSON body, as Atlas does.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", wantMediaType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// writeAtlasError answers with an Atlas error document.
func writeAtlasError(w http.ResponseWriter, status int, code, detail string) {
	b, _ := json.Marshal(map[string]any{
		"error": status, "errorCode": code, "detail": detail, "reason": http.StatusText(status),
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// opCase is one API operation: how to call it, what must go on the wire,
// and what Atlas answers.
type opCase struct {
	name   string
	call   func(ctx context.Context, c *Client) (any, *Response, error)
	method string
	path   string // escaped, below /api/atlas/v2
	query  string
	body   string // JSON the client must send; "" for none
	status int
	resp   string // body Atlas answers; "" for none
	check  func(t *testing.T, got any)
}

// runOpCases runs each case against a fake Atlas and checks the request on
// the wire and the decoded answer.
func runOpCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			var seen atomic.Int32
			f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
				seen.Add(1)
				testMethod(t, r, tc.method)
				testRawPath(t, r, "/api/atlas/v2"+tc.path)
				assert.Equal(t, tc.query, r.URL.RawQuery, "query")
				testHeaders(t, r, tc.body != "")
				testBody(t, r, tc.body)
				if tc.resp == "" {
					w.WriteHeader(tc.status)
					return
				}
				writeJSON(w, tc.status, tc.resp)
			})
			got, resp, err := tc.call(context.Background(), f.client)
			require.NoError(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, 1, resp.Attempts)
			assert.EqualValues(t, 1, seen.Load(), "requests")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// invalidCase is a call that must be refused before anything is sent.
type invalidCase struct {
	name    string
	call    func(ctx context.Context, c *Client) error
	wantArg string // the argument the message must name
}

// runInvalidCases checks that every call fails with ErrInvalidArgument,
// names the argument, and sends nothing.
func runInvalidCases(t *testing.T, cases []invalidCase) {
	t.Helper()
	f := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("no request expected, got %s %s", r.Method, r.URL.EscapedPath())
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(context.Background(), f.client)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.wantArg)
			var ae *ArgumentError
			if assert.ErrorAs(t, err, &ae) {
				assert.Equal(t, tc.wantArg, ae.Arg)
			}
		})
	}
	assert.Zero(t, f.requests(), "requests sent for invalid input")
}

// errOnly adapts a three-result call for invalidCase.
func errOnly[T any](_ T, _ *Response, err error) error { return err }

// mustJSON encodes v for fixtures.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func boolPtr(b bool) *bool { return &b }
