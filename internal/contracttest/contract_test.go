package contracttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// unknownID is a well-formed 24-hex id that no test server hands out.
const unknownID = "0123456789abcdef01234567"

func ids(keys []atlaskeys.APIKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func apiError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *atlaskeys.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, status, ae.HTTPStatus, "%v", err)
	if code != "" {
		assert.Equal(t, code, ae.ErrorCode, "%v", err)
	}
}

func TestOrgAPIKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	page, _, err := f.c.OrgAPIKeys.List(ctx, f.org, nil)
	require.NoError(t, err)
	assert.Contains(t, ids(page.Results), f.srv.AdminKeyID())
	assert.True(t, page.HasTotalCount())

	created, _, err := f.c.OrgAPIKeys.Create(ctx, f.org, &atlaskeys.CreateAPIKeyRequest{
		Desc:  "contract org key",
		Roles: []string{atlaskeys.RoleOrgMember, atlaskeys.RoleOrgBillingReadOnly},
	})
	require.NoError(t, err)
	assert.Len(t, created.PublicKey, 8)
	assert.False(t, created.PrivateKey.IsZero())
	assert.ElementsMatch(t, []string{atlaskeys.RoleOrgMember, atlaskeys.RoleOrgBillingReadOnly}, created.OrgRoles())

	got, _, err := f.c.OrgAPIKeys.Get(ctx, f.org, created.ID)
	require.NoError(t, err)
	assert.Equal(t, "contract org key", got.Desc)
	assert.NotEqual(t, created.PrivateKey.Reveal(), got.PrivateKey.Reveal(), "Get must return the private key redacted")

	upd, _, err := f.c.OrgAPIKeys.Update(ctx, f.org, created.ID, &atlaskeys.UpdateAPIKeyRequest{Desc: "renamed"})
	require.NoError(t, err)
	assert.Equal(t, "renamed", upd.Desc)
	upd, _, err = f.c.OrgAPIKeys.Update(ctx, f.org, created.ID, &atlaskeys.UpdateAPIKeyRequest{Roles: []string{atlaskeys.RoleOrgReadOnly}})
	require.NoError(t, err)
	assert.Equal(t, []string{atlaskeys.RoleOrgReadOnly}, upd.OrgRoles())
	upd, _, err = f.c.OrgAPIKeys.Update(ctx, f.org, created.ID, &atlaskeys.UpdateAPIKeyRequest{
		Desc: strings.Repeat("d", 250), Roles: []string{atlaskeys.RoleOrgGroupCreator, atlaskeys.RoleOrgStreamProcessingAdmin},
	})
	require.NoError(t, err)
	assert.Len(t, upd.Desc, 250)

	resp, err := f.c.OrgAPIKeys.Delete(ctx, f.org, created.ID)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	_, _, err = f.c.OrgAPIKeys.Get(ctx, f.org, created.ID)
	require.ErrorIs(t, err, atlaskeys.ErrNotFound)
}

func TestAccessList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	key := f.srv.AddAPIKey(f.org, "access list target", atlaskeys.RoleOrgMember)

	page, _, err := f.c.AccessList.List(ctx, f.org, key.ID, nil)
	require.NoError(t, err)
	assert.Empty(t, page.Results)

	page, _, err = f.c.AccessList.Create(ctx, f.org, key.ID, []atlaskeys.AccessListRequest{
		{IPAddress: "203.0.113.10"},
		{CIDRBlock: "198.51.100.0/24"},
		{CIDRBlock: "2001:db8::/32"},
	})
	require.NoError(t, err)
	require.Len(t, page.Results, 3)

	// Every form of the {ipAddress} segment: a plain IPv4 address, an IPv4
	// and an IPv6 CIDR block (sent as %2F), and an address the caller
	// already escaped.
	for _, addr := range []string{"203.0.113.10", "198.51.100.0/24", "2001:db8::/32", "198.51.100.0%2F24"} {
		e, _, err := f.c.AccessList.Get(ctx, f.org, key.ID, addr)
		require.NoError(t, err, addr)
		assert.NotZero(t, e.Created, addr)
	}
	var escaped int
	for _, r := range f.srv.Requests() {
		if strings.Contains(r.Path, "/accessList/") && strings.Contains(r.Path, "%2F") {
			escaped++
		}
	}
	assert.GreaterOrEqual(t, escaped, 3, "CIDR blocks must travel as %2F")

	page, _, err = f.c.AccessList.List(ctx, f.org, key.ID, &atlaskeys.ListOptions{ItemsPerPage: 500, PageNum: 1})
	require.NoError(t, err)
	assert.Len(t, page.Results, 3)

	for _, addr := range []string{"203.0.113.10", "198.51.100.0/24", "2001:db8::/32"} {
		resp, err := f.c.AccessList.Delete(ctx, f.org, key.ID, addr)
		require.NoError(t, err, addr)
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	}
	page, _, err = f.c.AccessList.List(ctx, f.org, key.ID, nil)
	require.NoError(t, err)
	assert.Empty(t, page.Results)
}

// TestAccessListUsedEntry covers the read-only fields that appear once a key
// has called from an address on its list (count, lastUsed,
// lastUsedAddress), and the 400 for removing the caller's own address.
func TestAccessListUsedEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	own := f.srv.AddAPIKey(f.org, "calls from loopback", atlaskeys.RoleOrgOwner)
	require.NoError(t, f.srv.AddAccessListEntry(f.org, own.ID, "127.0.0.1"))
	c := f.client(own.PublicKey, own.PrivateKey)

	e, _, err := c.AccessList.Get(ctx, f.org, own.ID, "127.0.0.1")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, e.Count, 1)
	require.NotNil(t, e.LastUsed)
	assert.Equal(t, "127.0.0.1", e.LastUsedAddress)

	_, err = c.AccessList.Delete(ctx, f.org, own.ID, "127.0.0.1")
	apiError(t, err, http.StatusBadRequest, "")
}

func TestProjectAPIKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	page, _, err := f.c.ProjectAPIKeys.List(ctx, f.project, nil)
	require.NoError(t, err)
	before := len(page.Results)

	created, _, err := f.c.ProjectAPIKeys.Create(ctx, f.project, &atlaskeys.CreateAPIKeyRequest{
		Desc: "contract project key", Roles: []string{atlaskeys.RoleGroupReadOnly},
	})
	require.NoError(t, err)
	assert.False(t, created.PrivateKey.IsZero())
	assert.Equal(t, []string{atlaskeys.RoleGroupReadOnly}, created.ProjectRoles()[f.project])

	existing := f.srv.AddAPIKey(f.org, "to assign")
	resp, err := f.c.ProjectAPIKeys.Assign(ctx, f.project, existing.ID, []string{atlaskeys.RoleGroupClusterManager})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	upd, _, err := f.c.ProjectAPIKeys.UpdateRoles(ctx, f.project, existing.ID, &atlaskeys.UpdateAPIKeyRequest{
		Desc: "assigned", Roles: []string{atlaskeys.RoleGroupOwner, atlaskeys.RoleGroupDataAccessReadOnly},
	})
	require.NoError(t, err)
	assert.Equal(t, "assigned", upd.Desc)
	assert.ElementsMatch(t, []string{atlaskeys.RoleGroupOwner, atlaskeys.RoleGroupDataAccessReadOnly}, upd.ProjectRoles()[f.project])

	page, _, err = f.c.ProjectAPIKeys.List(ctx, f.project, &atlaskeys.ListOptions{ItemsPerPage: 10})
	require.NoError(t, err)
	assert.Len(t, page.Results, before+2)
	assert.Subset(t, ids(page.Results), []string{created.ID, existing.ID})

	resp, err = f.c.ProjectAPIKeys.Unassign(ctx, f.project, existing.ID)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	_, err = f.c.ProjectAPIKeys.Unassign(ctx, f.project, existing.ID)
	require.ErrorIs(t, err, atlaskeys.ErrNotFound)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	want := []string{f.srv.AdminKeyID()}
	for i := range 10 {
		k := f.srv.AddAPIKey(f.org, fmt.Sprintf("page key %d", i))
		want = append(want, k.ID)
		if i < 5 {
			require.NoError(t, f.srv.AssignAPIKey(f.project, k.ID, atlaskeys.RoleGroupReadOnly))
		}
	}
	noCount := false

	// Page by page, following the next link, without a total count.
	var got []string
	pages := 0
	for n := 1; ; n++ {
		page, _, err := f.c.OrgAPIKeys.List(ctx, f.org, &atlaskeys.ListOptions{PageNum: n, ItemsPerPage: 3, IncludeCount: &noCount})
		require.NoError(t, err)
		assert.False(t, page.HasTotalCount(), "includeCount=false must omit totalCount")
		pages++
		got = append(got, ids(page.Results)...)
		if page.NextLink() == "" {
			break
		}
		require.Less(t, n, 10, "runaway pagination")
	}
	assert.Equal(t, 4, pages)
	assert.Equal(t, want, got)

	// The iterator, without a count and (concurrently) with one.
	for _, opts := range []*atlaskeys.ListOptions{
		{ItemsPerPage: 2, IncludeCount: &noCount},
		{ItemsPerPage: 2, FetchAhead: 4},
	} {
		got = got[:0]
		for k, err := range f.c.OrgAPIKeys.All(ctx, f.org, opts) {
			require.NoError(t, err)
			got = append(got, k.ID)
		}
		assert.Equal(t, want, got)
	}

	var projectKeys []string
	for k, err := range f.c.ProjectAPIKeys.All(ctx, f.project, &atlaskeys.ListOptions{ItemsPerPage: 2, IncludeCount: &noCount}) {
		require.NoError(t, err)
		projectKeys = append(projectKeys, k.ID)
	}
	assert.Equal(t, want[1:6], projectKeys)

	key := f.srv.AddAPIKey(f.org, "many entries")
	var entries []atlaskeys.AccessListRequest
	for i := range 5 {
		entries = append(entries, atlaskeys.AccessListRequest{IPAddress: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	_, _, err := f.c.AccessList.Create(ctx, f.org, key.ID, entries)
	require.NoError(t, err)
	n := 0
	for e, err := range f.c.AccessList.All(ctx, f.org, key.ID, &atlaskeys.ListOptions{ItemsPerPage: 2, IncludeCount: &noCount}) {
		require.NoError(t, err)
		assert.NotEmpty(t, e.IPAddress)
		n++
	}
	assert.Equal(t, 5, n)

	// A page past the end is an empty page, not an error.
	page, _, err := f.c.OrgAPIKeys.List(ctx, f.org, &atlaskeys.ListOptions{PageNum: 50, ItemsPerPage: 3})
	require.NoError(t, err)
	assert.Empty(t, page.Results)
	assert.Equal(t, len(want)+1, page.TotalCount, "the keys above plus the access-list key")
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	pub, priv := f.srv.AdminKey()
	target := f.srv.AddAPIKey(f.org, "error target")
	require.NoError(t, f.srv.AddAccessListEntry(f.org, target.ID, "203.0.113.0/24"))

	t.Run("404", func(t *testing.T) {
		_, _, err := f.c.OrgAPIKeys.Get(ctx, f.org, unknownID)
		apiError(t, err, http.StatusNotFound, "API_KEY_NOT_FOUND")
		_, _, err = f.c.OrgAPIKeys.Update(ctx, f.org, unknownID, &atlaskeys.UpdateAPIKeyRequest{Desc: "x"})
		apiError(t, err, http.StatusNotFound, "API_KEY_NOT_FOUND")
		_, err = f.c.OrgAPIKeys.Delete(ctx, f.org, unknownID)
		apiError(t, err, http.StatusNotFound, "API_KEY_NOT_FOUND")
		_, _, err = f.c.OrgAPIKeys.List(ctx, unknownID, nil)
		apiError(t, err, http.StatusNotFound, "")
		_, _, err = f.c.AccessList.List(ctx, f.org, unknownID, nil)
		apiError(t, err, http.StatusNotFound, "API_KEY_NOT_FOUND")
		_, _, err = f.c.AccessList.Get(ctx, f.org, target.ID, "192.0.2.77")
		apiError(t, err, http.StatusNotFound, "")
		_, err = f.c.AccessList.Delete(ctx, f.org, target.ID, "192.0.2.0/24")
		apiError(t, err, http.StatusNotFound, "")
		_, _, err = f.c.ProjectAPIKeys.List(ctx, unknownID, nil)
		apiError(t, err, http.StatusNotFound, "")
		_, err = f.c.ProjectAPIKeys.Assign(ctx, f.project, unknownID, []string{atlaskeys.RoleGroupReadOnly})
		apiError(t, err, http.StatusNotFound, "API_KEY_NOT_FOUND")
		_, _, err = f.c.ProjectAPIKeys.UpdateRoles(ctx, f.project, target.ID, &atlaskeys.UpdateAPIKeyRequest{Roles: []string{atlaskeys.RoleGroupOwner}})
		apiError(t, err, http.StatusNotFound, "")
		_, err = f.c.ProjectAPIKeys.Unassign(ctx, f.project, target.ID)
		apiError(t, err, http.StatusNotFound, "")
	})

	t.Run("403 low-privilege key", func(t *testing.T) {
		low := f.srv.AddAPIKey(f.org, "read only", atlaskeys.RoleOrgReadOnly)
		c := f.client(low.PublicKey, low.PrivateKey)
		_, _, err := c.OrgAPIKeys.List(ctx, f.org, nil)
		require.NoError(t, err, "ORG_READ_ONLY may list")
		_, _, err = c.OrgAPIKeys.Create(ctx, f.org, &atlaskeys.CreateAPIKeyRequest{Desc: "x", Roles: []string{atlaskeys.RoleOrgMember}})
		apiError(t, err, http.StatusForbidden, "")
		_, _, err = c.OrgAPIKeys.Update(ctx, f.org, target.ID, &atlaskeys.UpdateAPIKeyRequest{Desc: "x"})
		apiError(t, err, http.StatusForbidden, "")
		_, err = c.OrgAPIKeys.Delete(ctx, f.org, target.ID)
		apiError(t, err, http.StatusForbidden, "")
		_, _, err = c.AccessList.Create(ctx, f.org, target.ID, []atlaskeys.AccessListRequest{{IPAddress: "192.0.2.1"}})
		apiError(t, err, http.StatusForbidden, "")
		_, err = c.AccessList.Delete(ctx, f.org, target.ID, "203.0.113.0/24")
		apiError(t, err, http.StatusForbidden, "")
		_, _, err = c.ProjectAPIKeys.Create(ctx, f.project, &atlaskeys.CreateAPIKeyRequest{Desc: "x", Roles: []string{atlaskeys.RoleGroupReadOnly}})
		apiError(t, err, http.StatusForbidden, "")
		_, err = c.ProjectAPIKeys.Assign(ctx, f.project, target.ID, []string{atlaskeys.RoleGroupReadOnly})
		apiError(t, err, http.StatusForbidden, "")

		// A key of another organization is refused in this one.
		other := f.srv.AddOrg("other org")
		stranger := f.srv.AddAPIKey(other, "stranger", atlaskeys.RoleOrgOwner)
		_, _, err = f.client(stranger.PublicKey, stranger.PrivateKey).OrgAPIKeys.Get(ctx, f.org, target.ID)
		apiError(t, err, http.StatusForbidden, "")
	})

	t.Run("401 wrong credentials", func(t *testing.T) {
		c := f.client(pub, "not-the-private-key")
		_, _, err := c.OrgAPIKeys.List(ctx, f.org, nil)
		require.ErrorIs(t, err, atlaskeys.ErrUnauthorized)
		c = f.client("nobodyxx", priv)
		_, err = c.OrgAPIKeys.Delete(ctx, f.org, target.ID)
		require.ErrorIs(t, err, atlaskeys.ErrUnauthorized)
	})

	t.Run("400 raw requests the client refuses to send", func(t *testing.T) {
		// Schema-valid bodies (the spec makes both update fields optional
		// and does not forbid both access-list fields) that Atlas refuses.
		status, body := f.raw(pub, priv, http.MethodPatch, "/api/atlas/v2/orgs/"+f.org+"/apiKeys/"+target.ID, `{}`)
		assert.Equal(t, http.StatusBadRequest, status, body)
		status, body = f.raw(pub, priv, http.MethodPost, "/api/atlas/v2/orgs/"+f.org+"/apiKeys/"+target.ID+"/accessList",
			`[{"ipAddress":"192.0.2.5","cidrBlock":"192.0.2.0/24"}]`)
		assert.Equal(t, http.StatusBadRequest, status, body)
		require.NoError(t, f.srv.AssignAPIKey(f.project, target.ID, atlaskeys.RoleGroupReadOnly))
		status, body = f.raw(pub, priv, http.MethodPatch, "/api/atlas/v2/groups/"+f.project+"/apiKeys/"+target.ID, `{}`)
		assert.Equal(t, http.StatusBadRequest, status, body)
	})

	t.Run("409 duplicate access-list entry", func(t *testing.T) {
		_, _, err := f.c.AccessList.Create(ctx, f.org, target.ID, []atlaskeys.AccessListRequest{{CIDRBlock: "203.0.113.0/24"}})
		require.ErrorIs(t, err, atlaskeys.ErrConflict)
	})

	t.Run("429 and 500", func(t *testing.T) {
		c := f.client(pub, priv, atlaskeys.WithoutRetries())
		f.srv.InjectFault(atlastest.Fault{Method: http.MethodGet, Path: "/api/atlas/v2/orgs/*/apiKeys", Status: http.StatusTooManyRequests, RetryAfter: "7"})
		_, _, err := c.OrgAPIKeys.List(ctx, f.org, nil)
		require.ErrorIs(t, err, atlaskeys.ErrRateLimited)
		var ae *atlaskeys.APIError
		require.True(t, errors.As(err, &ae))
		assert.Equal(t, "7", ae.RetryAfter)
		assert.Equal(t, "RATE_LIMITED", ae.ErrorCode)

		f.srv.InjectFault(atlastest.Fault{Method: http.MethodDelete, Path: "/api/atlas/v2/groups/*", Status: http.StatusInternalServerError})
		_, err = c.ProjectAPIKeys.Unassign(ctx, f.project, target.ID)
		require.ErrorIs(t, err, atlaskeys.ErrServer)
	})
}

// TestServiceAccount drives the API with a bearer token: the token and
// revocation endpoints are outside this spec and only counted.
func TestServiceAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id, secret := f.srv.AddServiceAccount(f.org, atlaskeys.RoleOrgOwner)
	c, err := atlaskeys.NewClient(atlaskeys.WithServiceAccount(id, secret), atlaskeys.WithBaseURL(f.srv.URL))
	require.NoError(t, err)
	_, _, err = c.OrgAPIKeys.List(ctx, f.org, nil)
	require.NoError(t, err)
	_, _, err = c.AccessList.List(ctx, f.org, f.srv.AdminKeyID(), nil)
	require.NoError(t, err)
	require.NoError(t, c.Close(ctx))
	assert.Positive(t, f.local.Counts().NonAPI, "the token request is counted as non-API")
}
