package atlaskeys_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// saClient starts atlastest and a client signed in as a new ORG_OWNER
// service account.
func saClient(t *testing.T, srvOpts []atlastest.Option, opts ...atlaskeys.Option) (*atlastest.Server, *atlaskeys.Client, string) {
	t.Helper()
	srv := atlastest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	id, secret := srv.AddServiceAccount(srv.OrgID(), "ORG_OWNER")
	all := append([]atlaskeys.Option{
		atlaskeys.WithServiceAccount(id, secret),
		atlaskeys.WithBaseURL(srv.URL),
		atlaskeys.WithRetryPolicy(atlaskeys.RetryPolicy{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}),
	}, opts...)
	c, err := atlaskeys.NewClient(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return srv, c, secret
}

func TestServiceAccountLifecycle(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, nil)
	ctx := context.Background()
	org, project := srv.OrgID(), srv.ProjectID()

	key, _, err := c.OrgAPIKeys.Create(ctx, org, &atlaskeys.CreateAPIKeyRequest{Desc: "made by a service account", Roles: []string{atlaskeys.RoleOrgMember}})
	require.NoError(t, err)
	_, _, err = c.AccessList.Create(ctx, org, key.ID, []atlaskeys.AccessListRequest{{CIDRBlock: "192.0.2.0/24"}})
	require.NoError(t, err)
	_, err = c.ProjectAPIKeys.Assign(ctx, project, key.ID, []string{atlaskeys.RoleGroupReadOnly})
	require.NoError(t, err)
	_, _, err = c.ProjectAPIKeys.UpdateRoles(ctx, project, key.ID, &atlaskeys.UpdateAPIKeyRequest{Roles: []string{atlaskeys.RoleGroupOwner}})
	require.NoError(t, err)
	n := 0
	for _, err := range c.OrgAPIKeys.All(ctx, org, &atlaskeys.ListOptions{ItemsPerPage: 1}) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 2, n)
	_, err = c.ProjectAPIKeys.Unassign(ctx, project, key.ID)
	require.NoError(t, err)
	_, err = c.AccessList.Delete(ctx, org, key.ID, "192.0.2.0/24")
	require.NoError(t, err)
	_, err = c.OrgAPIKeys.Delete(ctx, org, key.ID)
	require.NoError(t, err)

	st := srv.Stats()
	assert.Equal(t, 1, st.TokenRequests, "one token for the whole lifecycle")
	assert.Zero(t, st.DigestAuthenticated)
	assert.Equal(t, st.Requests-st.TokenRequests, st.BearerAuthenticated, "every API call carried the bearer token")

	// Close revokes the token at Atlas: a copy of it no longer works.
	var token string
	for _, r := range srv.Requests() {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			token = strings.TrimPrefix(a, "Bearer ")
		}
	}
	require.NotEmpty(t, token)
	require.NoError(t, c.Close(ctx))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/atlas/v2/orgs/"+org+"/apiKeys", nil)
	req.Header.Set("Accept", "application/vnd.atlas.2023-01-01+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "revoked on Close")
}

func TestServiceAccountTokenReuse(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, nil)
	const n = 50
	for i := 0; i < n; i++ {
		_, _, err := c.OrgAPIKeys.List(context.Background(), srv.OrgID(), nil)
		require.NoError(t, err)
	}
	st := srv.Stats()
	t.Logf("service account: %d calls, %d token requests, %d HTTP requests", n, st.TokenRequests, st.Requests)
	assert.Equal(t, 1, st.TokenRequests)
	assert.Equal(t, n+1, st.Requests, "one request per call plus the token")
}

func TestServiceAccountTokenExpiryMidRun(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, []atlastest.Option{atlastest.WithTokenLifetime(2 * time.Second)})
	ctx := context.Background()
	call := func() {
		_, _, err := c.OrgAPIKeys.List(ctx, srv.OrgID(), nil)
		require.NoError(t, err)
	}
	for i := 0; i < 5; i++ {
		call()
	}
	require.Equal(t, 1, srv.Stats().TokenRequests)
	time.Sleep(2100 * time.Millisecond) // past the token's life
	for i := 0; i < 5; i++ {
		call()
	}
	st := srv.Stats()
	assert.Equal(t, 2, st.TokenRequests, "exactly one refresh")
	assert.Zero(t, st.Challenges, "renewed before use, not after a 401")
}

func TestServiceAccountRevokedTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, nil)
	ctx := context.Background()
	_, _, err := c.OrgAPIKeys.List(ctx, srv.OrgID(), nil)
	require.NoError(t, err)
	// Atlas refuses the cached token once (as after a revocation elsewhere).
	srv.InjectFault(atlastest.Fault{Method: "GET", Status: 401, Count: 1})
	_, _, err = c.OrgAPIKeys.List(ctx, srv.OrgID(), nil)
	require.NoError(t, err, "a 401 on a cached token fetches a new one and retries once")
	assert.Equal(t, 2, srv.Stats().TokenRequests)
}

func TestServiceAccountColdConcurrency(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, nil)
	const n = 32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			_, _, errs[i] = c.OrgAPIKeys.List(context.Background(), srv.OrgID(), nil)
		}(i)
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, srv.Stats().TokenRequests, "32 cold goroutines share one token request")
}

func TestServiceAccountWrongSecret(t *testing.T) {
	t.Parallel()
	srv := atlastest.NewServer()
	defer srv.Close()
	id, _ := srv.AddServiceAccount(srv.OrgID(), "ORG_OWNER")
	c, err := atlaskeys.NewClient(atlaskeys.WithServiceAccount(id, "mdb_sa_sk_wrong"), atlaskeys.WithBaseURL(srv.URL))
	require.NoError(t, err)
	defer c.Close(context.Background())
	for i := 0; i < 5; i++ {
		_, _, err = c.OrgAPIKeys.List(context.Background(), srv.OrgID(), nil)
		require.ErrorIs(t, err, atlaskeys.ErrUnauthorized)
		assert.True(t, atlaskeys.IsErrorCode(err, "invalid_client"), "%v", err)
		assert.Contains(t, err.Error(), "POST /api/oauth/token: 401 (invalid_client)")
		assert.NotContains(t, err.Error(), "mdb_sa_sk_wrong")
	}
	assert.Equal(t, 1, srv.Stats().TokenRequests, "5 calls, 1 token request: no retry storm")
	assert.Zero(t, srv.Stats().Requests-srv.Stats().TokenRequests, "no API request without a token")
}

func TestServiceAccountTokenEndpointRateLimited(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, nil, atlaskeys.WithoutRetries())
	srv.InjectFault(atlastest.Fault{Method: "POST", Path: "/api/oauth/token", Status: 429, RetryAfter: "7"})
	start := time.Now()
	for i := 0; i < 3; i++ {
		_, _, err := c.OrgAPIKeys.List(context.Background(), srv.OrgID(), nil)
		require.ErrorIs(t, err, atlaskeys.ErrRateLimited)
		var apiErr *atlaskeys.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "7", apiErr.RetryAfter)
	}
	assert.Less(t, time.Since(start), 2*time.Second, "answered from memory, not by waiting")
	tokenCalls := 0
	for _, r := range srv.Requests() {
		if r.Path == "/api/oauth/token" {
			tokenCalls++
		}
	}
	assert.Equal(t, 1, tokenCalls, "the endpoint was asked once in 3 calls, not hammered")
}

func TestServiceAccountTokenRateLimitRetried(t *testing.T) {
	t.Parallel()
	// With retries on, a 429 from the token endpoint is waited out once
	// (Retry-After: 1) and the call then succeeds.
	srv, c, _ := saClient(t, nil)
	srv.InjectFault(atlastest.Fault{Method: "POST", Path: "/api/oauth/token", Status: 429, RetryAfter: "1"})
	start := time.Now()
	_, resp, err := c.OrgAPIKeys.List(context.Background(), srv.OrgID(), nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	assert.Equal(t, 2, resp.Attempts)
}

func TestServiceAccountSecretsRedacted(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, c, secret := saClient(t, nil, atlaskeys.WithLogger(logger))
	ctx := context.Background()
	_, _, err := c.OrgAPIKeys.List(ctx, srv.OrgID(), nil)
	require.NoError(t, err)
	_, _, err = c.OrgAPIKeys.Get(ctx, srv.OrgID(), "0123456789abcdef01234567")
	require.Error(t, err)

	var token string
	for _, r := range srv.Requests() {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			token = strings.TrimPrefix(a, "Bearer ")
		}
	}
	require.NotEmpty(t, token)
	all := logs.String() + fmt.Sprintf("%v %+v %#v", err, c, *c)
	assert.NotContains(t, all, secret)
	assert.NotContains(t, all, token)
}

func TestServiceAccountTokenConnectionDropRetriedEvenForPOST(t *testing.T) {
	t.Parallel()
	srv, c, _ := saClient(t, nil)
	srv.InjectFault(atlastest.Fault{Method: "POST", Path: "/api/oauth/token", DropConnection: true})
	key, resp, err := c.OrgAPIKeys.Create(context.Background(), srv.OrgID(), &atlaskeys.CreateAPIKeyRequest{Desc: "after a lost token", Roles: []string{atlaskeys.RoleOrgMember}})
	require.NoError(t, err, "the POST itself was never sent, so it may be retried")
	assert.Equal(t, 2, resp.Attempts)
	assert.NotEmpty(t, key.PrivateKey.Reveal())
	assert.Len(t, srv.Snapshot().Orgs[0].APIKeys, 2, "the admin key and exactly one new key")
}
