package atlaskeys

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mockTransport is an httpmock transport that fails the test on any call
// no responder expects.
func mockTransport(t *testing.T) *httpmock.MockTransport {
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		return httpmock.NewStringResponse(http.StatusTeapot, ""), nil
	})
	return mt
}

func TestNewClient_InvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []Option
		wantArg string
	}{
		{"unparsable base URL", []Option{WithBaseURL("https://[::1")}, "WithBaseURL"},
		{"relative base URL", []Option{WithBaseURL("cloud.mongodb.com")}, "WithBaseURL"},
		{"ftp base URL", []Option{WithBaseURL("ftp://cloud.mongodb.com")}, "WithBaseURL"},
		{"no host", []Option{WithBaseURL("https://")}, "WithBaseURL"},
		{"credentials in URL", []Option{WithBaseURL("https://pub:priv@cloud.mongodb.com")}, "WithBaseURL"},
		{"query in URL", []Option{WithBaseURL("https://cloud.mongodb.com/?x=1")}, "WithBaseURL"},
		{"fragment in URL", []Option{WithBaseURL("https://cloud.mongodb.com/#x")}, "WithBaseURL"},
		{"plain http to a remote host", []Option{WithBaseURL("http://cloud.mongodb.com")}, "WithBaseURL"},
		{"plain http to a private address", []Option{WithBaseURL("http://10.1.2.3:8080")}, "WithBaseURL"},
		{"plain http to localhost look-alike", []Option{WithBaseURL("http://localhost.example.com")}, "WithBaseURL"},
		{"API path in base URL", []Option{WithBaseURL("https://cloud.mongodb.com/api/atlas/v2")}, "WithBaseURL"},
		{"digest and service account", []Option{WithDigestAuth("pub", "s3cr3t-value"), WithServiceAccount("id", "s3cr3t-value")}, "options"},
		{"empty public key", []Option{WithDigestAuth("", "priv")}, "WithDigestAuth publicKey"},
		{"empty private key", []Option{WithDigestAuth("pub", "")}, "WithDigestAuth privateKey"},
		{"empty client id", []Option{WithServiceAccount("", "secret")}, "WithServiceAccount clientID"},
		{"empty client secret", []Option{WithServiceAccount("id", "")}, "WithServiceAccount clientSecret"},
		{"API version not a date", []Option{WithAPIVersion("latest")}, "WithAPIVersion"},
		{"API version short", []Option{WithAPIVersion("2023-1-1")}, "WithAPIVersion"},
		{"API version impossible date", []Option{WithAPIVersion("2023-13-01")}, "WithAPIVersion"},
		{"API version with media type", []Option{WithAPIVersion("2023-01-01+json")}, "WithAPIVersion"},
		{"nil http client", []Option{WithHTTPClient(nil)}, "WithHTTPClient"},
		{"user agent with CRLF", []Option{WithUserAgent("app\r\nX-Evil: 1")}, "WithUserAgent"},
		{"zero max response", []Option{WithMaxResponseBytes(0)}, "WithMaxResponseBytes"},
		{"negative max attempts", []Option{WithRetryPolicy(RetryPolicy{MaxAttempts: -1})}, "RetryPolicy.MaxAttempts"},
		{"negative backoff", []Option{WithRetryPolicy(RetryPolicy{MinBackoff: -time.Second})}, "RetryPolicy"},
		{"max below min backoff", []Option{WithRetryPolicy(RetryPolicy{MinBackoff: time.Second, MaxBackoff: time.Millisecond})}, "RetryPolicy.MaxBackoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mt := mockTransport(t)
			opts := append([]Option{WithHTTPClient(&http.Client{Transport: mt})}, tt.opts...)
			c, err := NewClient(opts...)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrInvalidArgument)
			var ae *ArgumentError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.wantArg, ae.Arg)
			assert.Contains(t, err.Error(), tt.wantArg)
			assert.NotContains(t, err.Error(), "s3cr3t-value", "no credentials in errors")
			assert.Zero(t, mt.GetTotalCallCount())
		})
	}
}

func TestNewClient_BaseURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []Option
		wantAPI string
	}{
		{"default", nil, "https://cloud.mongodb.com/api/atlas/v2"},
		{"trailing slash", []Option{WithBaseURL("https://cloud.mongodb.com/")}, "https://cloud.mongodb.com/api/atlas/v2"},
		{"path prefix", []Option{WithBaseURL("https://proxy.example.com/atlas/")}, "https://proxy.example.com/atlas/api/atlas/v2"},
		{"http localhost", []Option{WithBaseURL("http://localhost:8080")}, "http://localhost:8080/api/atlas/v2"},
		{"http 127.0.0.1", []Option{WithBaseURL("http://127.0.0.1:1234")}, "http://127.0.0.1:1234/api/atlas/v2"},
		{"http ::1", []Option{WithBaseURL("http://[::1]:1234")}, "http://[::1]:1234/api/atlas/v2"},
		{"http remote opted in", []Option{WithBaseURL("http://atlas.internal:80"), WithInsecureHTTP()}, "http://atlas.internal:80/api/atlas/v2"},
		{"opt-in before URL", []Option{WithInsecureHTTP(), WithBaseURL("http://10.0.0.1")}, "http://10.0.0.1/api/atlas/v2"},
		{"nil option ignored", []Option{nil}, "https://cloud.mongodb.com/api/atlas/v2"},
	}
	for _, tt := range tests {
		mt := mockTransport(t)
		c, err := NewClient(append([]Option{WithHTTPClient(&http.Client{Transport: mt})}, tt.opts...)...)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.wantAPI, c.apiRoot, tt.name)
		assert.Zero(t, mt.GetTotalCallCount(), tt.name)
	}
}

func TestNewClient_DoesNotTouchCallersHTTPClient(t *testing.T) {
	t.Parallel()
	for _, auth := range []Option{WithDigestAuth("pubkey00", "priv-secret"), WithServiceAccount("mdb_sa_id", "mdb_sa_sk_secret"), nil} {
		mt := mockTransport(t)
		hc := &http.Client{Transport: mt, Timeout: 7 * time.Second}
		before := *hc
		c, err := NewClient(WithHTTPClient(hc), auth, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		require.NoError(t, err)
		assert.Same(t, mt, hc.Transport.(*httpmock.MockTransport), "the caller's Transport pointer is unchanged")
		assert.Equal(t, before.Timeout, hc.Timeout)
		assert.Nil(t, hc.CheckRedirect)
		assert.NotSame(t, hc, c.hc, "the client uses its own copy")
		assert.Equal(t, 7*time.Second, c.hc.Timeout, "the caller's settings are kept")
		assert.Zero(t, mt.GetTotalCallCount(), "NewClient makes no network call")
	}
}

func TestClient_UsesCallersTransport(t *testing.T) {
	t.Parallel()
	mt := mockTransport(t)
	var got *http.Request
	mt.RegisterResponder(http.MethodGet, "https://cloud.mongodb.com/api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID,
		func(r *http.Request) (*http.Response, error) {
			got = r
			resp := httpmock.NewStringResponse(200, keyJSON)
			resp.Header.Set("Content-Type", wantMediaType)
			return resp, nil
		})
	c, err := NewClient(WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)
	k, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.NoError(t, err)
	checkKey(t, k)
	assert.Equal(t, 1, mt.GetTotalCallCount())
	require.NotNil(t, got)
	testHeaders(t, got, false)
}

func TestClient_UserAgentAndAPIVersion(t *testing.T) {
	t.Parallel()
	f := setup(t, WithUserAgent("  terraform-provider-atlas/1.2.3 "), WithAPIVersion("2025-03-12"))
	var reqs []*http.Request
	f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
		reqs = append(reqs, r)
		writeJSON(w, 200, keyJSON)
	})
	ctx := context.Background()
	_, _, err := f.client.OrgAPIKeys.Get(ctx, orgID, keyID)
	require.NoError(t, err)
	_, _, err = f.client.OrgAPIKeys.Update(ctx, orgID, keyID, &UpdateAPIKeyRequest{Desc: "x"})
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, "application/vnd.atlas.2025-03-12+json", r.Header.Get("Accept"))
		assert.Equal(t, "terraform-provider-atlas/1.2.3 "+defaultUA(), r.Header.Get("User-Agent"))
	}
	assert.Empty(t, reqs[0].Header.Get("Content-Type"))
	assert.Equal(t, "application/vnd.atlas.2025-03-12+json", reqs[1].Header.Get("Content-Type"))
	assert.Regexp(t, `^atlaskeys/\d+\.\d+\.\d+ \(go[^;]+; [a-z0-9]+/[a-z0-9]+\)$`, defaultUA())
}

// TestClient_BadResponses checks that an unusable answer never panics and
// explains itself.
func TestClient_BadResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    string // "get", "list" or "delete"
		want    error  // sentinel the error must match
		status  int    // for *APIError answers
		msg     string // in the error text
	}{
		{
			name: "truncated JSON", call: "get", want: ErrBadResponse, msg: "decoding response body",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, keyJSON[:40]) },
		},
		{
			name: "empty 200", call: "get", want: ErrBadResponse, msg: "empty body",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", wantMediaType) },
		},
		{
			name: "null document", call: "get", want: ErrBadResponse, msg: "without a document (no body, or null)",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `null`) },
		},
		{
			name: "HTML from a proxy", call: "get", want: ErrBadResponse, msg: `content type "text/html`,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = io.WriteString(w, "<html><body>Please log in to the corporate proxy</body></html>")
			},
		},
		{
			name: "wrong content type", call: "list", want: ErrBadResponse, msg: "application/xml",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				_, _ = io.WriteString(w, "<results/>")
			},
		},
		{
			name: "JSON of the wrong shape", call: "get", want: ErrBadResponse, msg: "decoding",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[1,2,3]`) },
		},
		{
			name: "page without results", call: "list", want: ErrBadResponse, msg: `"results"`,
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"totalCount":3}`) },
		},
		{
			name: "204 where a body is due", call: "get", want: ErrBadResponse, msg: "204",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		},
		{
			name: "204 where a page is due", call: "list", want: ErrBadResponse, msg: "204",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		},
		{
			name: "redirect is not followed", call: "get", status: http.StatusFound, msg: "302 Found",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://login.example.com/", http.StatusFound)
			},
		},
		{
			name: "teapot", call: "delete", status: http.StatusTeapot, msg: "418",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) },
		},
		{
			name: "informational-looking 2xx with HTML", call: "delete", // Delete reads no body: fine
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, "<p>ok</p>")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.mux.HandleFunc("/api/atlas/v2/", tt.handler)
			var err error
			var resp *Response
			ctx := context.Background()
			switch tt.call {
			case "get":
				var k *APIKey
				k, resp, err = f.client.OrgAPIKeys.Get(ctx, orgID, keyID)
				if err != nil {
					assert.Nil(t, k)
				}
			case "list":
				var p *Page[APIKey]
				p, resp, err = f.client.OrgAPIKeys.List(ctx, orgID, nil)
				if err != nil {
					assert.Nil(t, p)
				}
			case "delete":
				resp, err = f.client.OrgAPIKeys.Delete(ctx, orgID, keyID)
			}
			if tt.want == nil && tt.status == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.NotNil(t, resp, "the response is returned with the error")
			assert.Contains(t, err.Error(), tt.msg)
			assert.Contains(t, err.Error(), "/api/atlas/v2/orgs/"+orgID+"/apiKeys", "the error says which call")
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				var ae *APIError
				assert.False(t, errors.As(err, &ae), "a 2xx is not an APIError")
			}
			if tt.status != 0 {
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tt.status, ae.HTTPStatus)
				assert.NotErrorIs(t, err, ErrBadResponse)
			}
		})
	}
}

func TestClient_MaxResponseBytes(t *testing.T) {
	t.Parallel()
	f := setup(t, WithMaxResponseBytes(int64(len(keyJSON))))
	f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, keyJSON)
	})
	k, _, err := f.client.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.NoError(t, err, "a body exactly at the limit is fine")
	checkKey(t, k)

	g := setup(t, WithMaxResponseBytes(64))
	g.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"results":[`+strings.Repeat(`{"id":"aaaaaaaaaaaaaaaaaaaaaaaa"},`, 1000)+`{}]}`)
	})
	_, _, err = g.client.OrgAPIKeys.List(context.Background(), orgID, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.NotErrorIs(t, err, ErrBadResponse)
	assert.Contains(t, err.Error(), "64 bytes")
}

// TestClient_Logging checks the debug records: what they hold and what
// they must never hold.
func TestClient_Logging(t *testing.T) {
	t.Parallel()
	const pub, priv = "zmmrboas", "55c3bbb6-b4bb-0be1-e66d20841f3e"
	var logBuf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	okPage := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, keyPageJSON) }
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE"), okPage}}
	srv := httptest.NewServer(digestServer(t, pub, priv, s.ServeHTTP))
	defer srv.Close()
	c, err := NewClient(WithBaseURL(srv.URL), WithDigestAuth(pub, priv), WithLogger(logger), fastRetries(3))
	require.NoError(t, err)
	defer c.Close(context.Background())

	_, _, err = c.OrgAPIKeys.List(context.Background(), orgID, &ListOptions{PageNum: 2})
	require.NoError(t, err)

	out := logBuf.String()
	assert.NotContains(t, out, priv)
	assert.NotContains(t, out, "Digest ")
	assert.NotContains(t, out, "response=")
	assert.NotContains(t, out, "pageNum", "queries are not logged")

	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		recs = append(recs, m)
	}
	require.Len(t, recs, 2, "one record per attempt")
	for i, r := range recs {
		assert.Equal(t, "DEBUG", r["level"])
		assert.Equal(t, "GET", r["method"])
		assert.Equal(t, "/api/atlas/v2/orgs/"+orgID+"/apiKeys", r["path"])
		assert.EqualValues(t, i+1, r["attempt"])
		assert.Contains(t, r, "duration")
	}
	assert.EqualValues(t, 503, recs[0]["status"])
	assert.EqualValues(t, 200, recs[1]["status"])
}

func TestClient_LoggingTransportError(t *testing.T) {
	t.Parallel()
	var logBuf syncBuffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &script{steps: []http.HandlerFunc{hangUp}}
	c, _ := newServer(t, s.ServeHTTP, WithLogger(logger), WithoutRetries())
	_, err := c.OrgAPIKeys.Delete(context.Background(), orgID, keyID)
	require.Error(t, err)
	out := logBuf.String()
	assert.Contains(t, out, "status=0")
	assert.Contains(t, out, "error=")
	assert.Contains(t, out, "method=DELETE")

	// Above debug level, nothing is logged.
	var quiet syncBuffer
	c2, _ := newServer(t, okKey, WithLogger(slog.New(slog.NewTextHandler(&quiet, nil))))
	_, _, err = c2.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.NoError(t, err)
	assert.Empty(t, quiet.String())
}

// TestClient_DigestAuth is a smoke test: the client answers a digest
// challenge, and the private key never crosses the wire.
func TestClient_DigestAuth(t *testing.T) {
	t.Parallel()
	const pub, priv = "abcdefgh", "d2f3a4b5-c6d7-e8f9-a0b1-c2d3e4f5a6b7"
	var wire syncBuffer
	s := &script{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, createdKeyJSON)
	}}}
	inner := digestServer(t, pub, priv, s.ServeHTTP)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.Header.Write(&wire)
		inner(w, r)
	}))
	defer srv.Close()
	c, err := NewClient(WithBaseURL(srv.URL), WithDigestAuth(pub, priv))
	require.NoError(t, err)
	defer c.Close(context.Background())

	k, resp, err := c.OrgAPIKeys.Create(context.Background(), orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgOwner}})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, privateKey, k.PrivateKey.Reveal())
	assert.Equal(t, 1, s.count(), "the handler ran once, after authentication")
	assert.Equal(t, `{"desc":"d","roles":["ORG_OWNER"]}`, s.bodies[0], "the body survives the challenge")
	assert.NotContains(t, wire.String(), priv)
	assert.Contains(t, wire.String(), `username="abcdefgh"`)

	// Wrong credentials: Atlas's 401 is returned as an *APIError.
	bad, err := NewClient(WithBaseURL(srv.URL), WithDigestAuth(pub, "wrong"))
	require.NoError(t, err)
	defer bad.Close(context.Background())
	_, _, err = bad.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	assert.ErrorIs(t, err, ErrUnauthorized)
}

// digestServer wraps h with RFC 7616 digest authentication (MD5, qop=auth),
// the way Atlas challenges API keys.
func digestServer(t *testing.T, user, pass string, h http.HandlerFunc) http.HandlerFunc {
	const realm, nonce = "MMS Public API", "5ZxQyc9sDGbJ0qzUfMxB2xCNw1cbbLx1"
	param := regexp.MustCompile(`(\w+)=(?:"([^"]*)"|([^\s,]*))`)
	md5hex := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	return func(w http.ResponseWriter, r *http.Request) {
		challenge := func() {
			w.Header().Set("WWW-Authenticate", `Digest realm="`+realm+`", domain="", nonce="`+nonce+`", algorithm=MD5, qop="auth", stale=false`)
			writeAtlasError(w, http.StatusUnauthorized, "", "You are not authorized for this resource.")
		}
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Digest ")
		if !ok {
			challenge()
			return
		}
		p := map[string]string{}
		for _, m := range param.FindAllStringSubmatch(auth, -1) {
			p[m[1]] = m[2] + m[3]
		}
		ha1 := md5hex(user + ":" + realm + ":" + pass)
		ha2 := md5hex(r.Method + ":" + p["uri"])
		want := md5hex(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
		if p["username"] != user || p["response"] != want || p["uri"] != r.URL.RequestURI() {
			challenge()
			return
		}
		h(w, r)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
