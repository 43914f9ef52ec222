package atlaskeys

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script answers the nth request (from 1) with steps[n-1], or with the
// last step once the script runs out. It counts requests and keeps bodies.
type script struct {
	steps []http.HandlerFunc
	n     atomic.Int32

	mu     sync.Mutex
	bodies []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.n.Add(1))
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	if n > len(s.steps) {
		n = len(s.steps)
	}
	s.steps[n-1](w, r)
}

func (s *script) count() int { return int(s.n.Load()) }

func atlasErr(status int, code string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		writeAtlasError(w, status, code, "try again")
	}
}

func okKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("RateLimit-Limit", "100")
	w.Header().Set("RateLimit-Remaining", "97")
	writeJSON(w, 200, keyJSON)
}

func noContent(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }

// dropMidBody sends headers promising more body than it writes, then hangs up.
func dropMidBody(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + wantMediaType + "\r\nContent-Length: 1000\r\n\r\n{\"id\":\"32b6")
	_ = buf.Flush()
	_ = conn.Close()
}

// hangUp closes the connection without answering.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

func TestRetry_RateLimitedHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{
		atlasErr(429, "RATE_LIMITED", "Retry-After", "1"),
		atlasErr(429, "RATE_LIMITED", "Retry-After", "1"),
		okKey,
	}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	start := time.Now()
	k, resp, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, keyID, k.ID)
	assert.Equal(t, 3, resp.Attempts)
	assert.Equal(t, 3, s.count())
	assert.GreaterOrEqual(t, elapsed, 2*time.Second, "waited Retry-After twice")
	limit, remaining, ok := resp.RateLimit()
	assert.True(t, ok)
	assert.Equal(t, 100, limit)
	assert.Equal(t, 97, remaining)
}

func TestRetry_RetryAfterHTTPDate(t *testing.T) {
	t.Parallel()
	when := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	s := &script{steps: []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) {
			atlasErr(429, "RATE_LIMITED", "Retry-After", when.Format(http.TimeFormat))(w, r)
		},
		okKey,
	}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	_, resp, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.NoError(t, err)
	assert.Equal(t, 2, resp.Attempts)
	assert.False(t, time.Now().Before(when), "retried before the Retry-After date")
}

func TestRetry_RateLimitedPostIsRetried(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(429, "RATE_LIMITED"), okKey}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	_, resp, err := c.OrgAPIKeys.Create(context.Background(), orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgMember}})
	require.NoError(t, err)
	assert.Equal(t, 2, resp.Attempts)
	require.Len(t, s.bodies, 2)
	assert.JSONEq(t, `{"desc":"d","roles":["ORG_MEMBER"]}`, s.bodies[1], "the body is sent again in full")
	assert.Equal(t, s.bodies[0], s.bodies[1])
}

func TestRetry_RetryAfterAboveMax(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(429, "RATE_LIMITED", "Retry-After", "3600"), okKey}}
	c, _ := newServer(t, s.ServeHTTP, WithRetryPolicy(RetryPolicy{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxRetryAfter: time.Minute}))
	start := time.Now()
	_, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	assert.Less(t, time.Since(start), time.Second)
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Contains(t, err.Error(), "MaxRetryAfter")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "3600", ae.RetryAfter)
	assert.Equal(t, 1, s.count())
}

func TestRetry_ServerErrorOnPostNotRetried(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE"), okKey}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	for name, call := range map[string]func() error{
		"OrgAPIKeys.Create": func() error {
			return errOnly(c.OrgAPIKeys.Create(context.Background(), orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgMember}}))
		},
		"AccessList.Create": func() error {
			return errOnly(c.AccessList.Create(context.Background(), orgID, keyID, []AccessListRequest{{IPAddress: "10.0.0.1"}}))
		},
	} {
		s.n.Store(0)
		err := call()
		require.Error(t, err, name)
		assert.Equal(t, 1, Attempts(err), name)
		assert.Contains(t, err.Error(), "(1 attempt; POST is not retried", name)
		assert.ErrorIs(t, err, ErrServer, name)
		assert.Equal(t, 1, s.count(), name)
	}
}

func TestRetry_SafeMethodsRetriedUpToMax(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE")}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(3))
	_, resp, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.Error(t, err)
	assert.Equal(t, 3, s.count())
	assert.Equal(t, 3, Attempts(err))
	assert.Contains(t, err.Error(), "(3 attempts)")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.HTTPStatus)
	assert.Equal(t, "SERVICE_UNAVAILABLE", ae.ErrorCode)
	require.NotNil(t, resp)
	assert.Equal(t, 3, resp.Attempts)
	assert.Equal(t, 503, resp.StatusCode)
}

func TestRetry_IdempotentWritesRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   http.HandlerFunc
		call func(c *Client) error
	}{
		{"OrgAPIKeys.Update PATCH", okKey, func(c *Client) error {
			return errOnly(c.OrgAPIKeys.Update(context.Background(), orgID, keyID, &UpdateAPIKeyRequest{Desc: "x"}))
		}},
		{"ProjectAPIKeys.UpdateRoles PATCH", okKey, func(c *Client) error {
			return errOnly(c.ProjectAPIKeys.UpdateRoles(context.Background(), groupID, keyID, &UpdateAPIKeyRequest{Roles: []string{RoleGroupOwner}}))
		}},
		{"OrgAPIKeys.Delete", noContent, func(c *Client) error {
			_, err := c.OrgAPIKeys.Delete(context.Background(), orgID, keyID)
			return err
		}},
		{"AccessList.Delete", noContent, func(c *Client) error {
			_, err := c.AccessList.Delete(context.Background(), orgID, keyID, "10.0.0.0/8")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{steps: []http.HandlerFunc{atlasErr(500, "UNEXPECTED_ERROR"), atlasErr(502, "BAD_GATEWAY"), tt.ok}}
			c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
			require.NoError(t, tt.call(c))
			assert.Equal(t, 3, s.count())
			if s.bodies[0] != "" {
				assert.Equal(t, s.bodies[0], s.bodies[2], "same body each attempt")
			}
		})
	}
}

func TestRetry_ConnectionDroppedMidBody(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{dropMidBody, okKey}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	k, resp, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.NoError(t, err)
	assert.Equal(t, keyID, k.ID)
	assert.Equal(t, 2, resp.Attempts)
	assert.Equal(t, 2, s.count())
}

func TestRetry_ConnectionDroppedMidBodyExhausted(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{dropMidBody}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(2))
	_, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotErrorIs(t, err, ErrBadResponse)
	assert.Equal(t, 2, Attempts(err))
	assert.Contains(t, err.Error(), "reading response body")
}

func TestRetry_PostConnectionDroppedNotRetried(t *testing.T) {
	t.Parallel()
	for _, step := range []http.HandlerFunc{hangUp, dropMidBody} {
		s := &script{steps: []http.HandlerFunc{step, okKey}}
		c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
		_, _, err := c.OrgAPIKeys.Create(context.Background(), orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgMember}})
		require.Error(t, err)
		assert.Equal(t, 1, s.count(), "a POST that may have reached Atlas is not sent again")
		assert.Equal(t, 1, Attempts(err))
		assert.Contains(t, err.Error(), "POST is not retried")
		assert.Contains(t, err.Error(), "POST /api/atlas/v2/orgs/"+orgID+"/apiKeys")
	}
}

func TestRetry_ConnectionRefusedRetriedEvenForPost(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := NewClient(WithBaseURL("http://"+addr), fastRetries(3))
	require.NoError(t, err)
	defer c.Close(context.Background())
	_, _, err = c.OrgAPIKeys.Create(context.Background(), orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgMember}})
	require.Error(t, err)
	assert.Equal(t, 3, Attempts(err), "nothing was sent, so a POST may be tried again: %v", err)
	assert.Contains(t, err.Error(), "3 attempts")
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
}

func TestRetry_DeadlineDuringBackoff(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE", "Retry-After", "10")}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.OrgAPIKeys.Get(ctx, orgID, keyID)
	assert.Less(t, time.Since(start), 3*time.Second, "returned long before the 10s backoff")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "503")
	assert.ErrorIs(t, err, ErrServer, "Atlas's answer is kept")
	var ae *APIError
	assert.ErrorAs(t, err, &ae)
	assert.Equal(t, 1, s.count())
}

func TestRetry_ContextCanceledDuringRequest(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := &script{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.OrgAPIKeys.Get(ctx, orgID, keyID)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "GET /api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID+": ", "the error says which call timed out")
	assert.Equal(t, 1, s.count(), "a done context is not retried")
}

func TestRetry_WithoutRetries(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE"), okKey}}
	c, _ := newServer(t, s.ServeHTTP, WithoutRetries())
	_, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.Error(t, err)
	assert.Equal(t, 1, s.count())
	assert.Equal(t, 1, Attempts(err))
	assert.Contains(t, err.Error(), "retries are off")

	// 429 too.
	s2 := &script{steps: []http.HandlerFunc{atlasErr(429, "RATE_LIMITED"), okKey}}
	c2, _ := newServer(t, s2.ServeHTTP, WithoutRetries())
	_, _, err = c2.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 1, s2.count())
}

func TestRetry_NotFoundNotRetried(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(404, "API_KEY_NOT_FOUND"), okKey}}
	c, _ := newServer(t, s.ServeHTTP, fastRetries(4))
	_, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, 1, s.count())
	assert.Zero(t, Attempts(err))
}

func TestRetry_Budget(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE")}}
	c, _ := newServer(t, s.ServeHTTP, WithRetryPolicy(RetryPolicy{MaxAttempts: 4, MinBackoff: time.Millisecond, Budget: 10}))
	ctx := context.Background()

	// 10 tokens pay for two retries (5 each): the third attempt fails and
	// the budget stops a fourth.
	_, _, err := c.OrgAPIKeys.Get(ctx, orgID, keyID)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRetryBudgetExhausted)
	assert.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 3, Attempts(err))
	assert.Equal(t, 3, s.count())

	// Now every failing call returns after one attempt.
	for i := 0; i < 5; i++ {
		start := time.Now()
		_, _, err = c.OrgAPIKeys.Get(ctx, orgID, keyID)
		assert.ErrorIs(t, err, ErrRetryBudgetExhausted)
		assert.Equal(t, 1, Attempts(err))
		assert.Less(t, time.Since(start), time.Second)
		assert.Contains(t, err.Error(), "retry budget exhausted")
	}
	assert.Equal(t, 3+5, s.count(), "without the budget the server would have seen 4 per call")

	// A success refunds a token but a retry costs 5: still exhausted.
	assert.Equal(t, 0, c.budget.Tokens())
}

func TestRetry_BudgetUnlimited(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{atlasErr(503, "SERVICE_UNAVAILABLE")}}
	c, _ := newServer(t, s.ServeHTTP, WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, Budget: -1}))
	for i := 0; i < 5; i++ {
		_, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
		assert.NotErrorIs(t, err, ErrRetryBudgetExhausted)
		assert.Equal(t, 3, Attempts(err))
	}
	assert.Equal(t, 15, s.count())
}

func TestResponse_RateLimit(t *testing.T) {
	t.Parallel()
	mk := func(h http.Header) *Response { return &Response{Response: &http.Response{Header: h}} }
	l, r, ok := mk(http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"0"}}).RateLimit()
	assert.True(t, ok)
	assert.Equal(t, 100, l)
	assert.Equal(t, 0, r)
	_, _, ok = mk(http.Header{}).RateLimit()
	assert.False(t, ok)
	_, _, ok = mk(http.Header{"Ratelimit-Limit": {"lots"}}).RateLimit()
	assert.False(t, ok)
	_, _, ok = mk(http.Header{"Ratelimit-Limit": {"100"}}).RateLimit()
	assert.False(t, ok, "a missing Remaining must not read as 0 left")
	var nilResp *Response
	_, _, ok = nilResp.RateLimit()
	assert.False(t, ok)
}

func TestRetryPolicy_Normalize(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MinBackoff: time.Millisecond}
	require.NoError(t, p.normalize())
	d := DefaultRetryPolicy()
	assert.Equal(t, d.MaxAttempts, p.MaxAttempts)
	assert.Equal(t, d.MaxBackoff, p.MaxBackoff)
	assert.Equal(t, d.MaxRetryAfter, p.MaxRetryAfter)
	assert.Equal(t, d.Budget, p.Budget)
	assert.Equal(t, time.Millisecond, p.MinBackoff)

	p = RetryPolicy{MinBackoff: time.Minute}
	require.NoError(t, p.normalize())
	assert.Equal(t, time.Minute, p.MaxBackoff, "MaxBackoff is raised to MinBackoff")
}

// TestRetry_CertificateErrorNotRetried: a certificate Atlas's address does
// not prove is not going to change on a second try.
func TestRetry_CertificateErrorNotRetried(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(okKey))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	// The client does not trust httptest's certificate.
	c, err := NewClient(WithBaseURL(srv.URL), fastRetries(4))
	require.NoError(t, err)
	defer c.Close(context.Background())
	_, _, err = c.OrgAPIKeys.Get(context.Background(), orgID, keyID)
	require.Error(t, err)
	var cve *tls.CertificateVerificationError
	assert.ErrorAs(t, err, &cve)
	assert.EqualValues(t, 1, conns.Load(), "one handshake, no retries")
	assert.Contains(t, err.Error(), "GET /api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID)
}
