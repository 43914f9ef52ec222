package atlaskeys_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// fakeAtlas starts an atlastest server and a client signed in as its admin
// key, with fast retries so fault tests stay quick.
func fakeAtlas(t *testing.T, srvOpts []atlastest.Option, opts ...atlaskeys.Option) (*atlastest.Server, *atlaskeys.Client) {
	t.Helper()
	srv := atlastest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	pub, priv := srv.AdminKey()
	all := append([]atlaskeys.Option{
		atlaskeys.WithDigestAuth(pub, priv),
		atlaskeys.WithBaseURL(srv.URL),
		atlaskeys.WithRetryPolicy(atlaskeys.RetryPolicy{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}),
	}, opts...)
	c, err := atlaskeys.NewClient(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return srv, c
}

func newKey(t *testing.T, c *atlaskeys.Client, orgID, desc string, roles ...string) *atlaskeys.APIKey {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{atlaskeys.RoleOrgMember}
	}
	k, _, err := c.OrgAPIKeys.Create(context.Background(), orgID, &atlaskeys.CreateAPIKeyRequest{Desc: desc, Roles: roles})
	require.NoError(t, err)
	return k
}

// TestAtlastestEveryOperation runs each of the 14 operations through the
// real client against the fake and checks the effect on the fake's state.
func TestAtlastestEveryOperation(t *testing.T) {
	t.Parallel()
	srv, c := fakeAtlas(t, nil)
	ctx := context.Background()
	org, project := srv.OrgID(), srv.ProjectID()

	t.Run("OrgAPIKeys", func(t *testing.T) {
		key := newKey(t, c, org, "ops org key", atlaskeys.RoleOrgMember)
		assert.Len(t, key.ID, 24)
		assert.Len(t, key.PublicKey, 8)
		assert.NotEmpty(t, key.PrivateKey.Reveal())
		assert.Equal(t, []string{atlaskeys.RoleOrgMember}, key.OrgRoles())

		got, _, err := c.OrgAPIKeys.Get(ctx, org, key.ID)
		require.NoError(t, err)
		assert.Equal(t, key.PublicKey, got.PublicKey)
		assert.NotEqual(t, key.PrivateKey.Reveal(), got.PrivateKey.Reveal(), "only the create response carries the unredacted secret")

		upd, _, err := c.OrgAPIKeys.Update(ctx, org, key.ID, &atlaskeys.UpdateAPIKeyRequest{Desc: "renamed", Roles: []string{atlaskeys.RoleOrgReadOnly}})
		require.NoError(t, err)
		assert.Equal(t, "renamed", upd.Desc)
		assert.Equal(t, []string{atlaskeys.RoleOrgReadOnly}, upd.OrgRoles())

		page, _, err := c.OrgAPIKeys.List(ctx, org, nil)
		require.NoError(t, err)
		assert.Equal(t, 2, page.TotalCount)
		assert.True(t, page.HasTotalCount())

		_, err = c.OrgAPIKeys.Delete(ctx, org, key.ID)
		require.NoError(t, err)
		_, _, err = c.OrgAPIKeys.Get(ctx, org, key.ID)
		assert.ErrorIs(t, err, atlaskeys.ErrNotFound)
	})

	t.Run("AccessList", func(t *testing.T) {
		key := newKey(t, c, org, "ops access list")
		page, _, err := c.AccessList.Create(ctx, org, key.ID, []atlaskeys.AccessListRequest{
			{IPAddress: "203.0.113.10"}, {CIDRBlock: "10.0.0.0/24"}, {CIDRBlock: "2001:db8::/32"},
		})
		require.NoError(t, err)
		assert.Len(t, page.Results, 3)

		for _, addr := range []string{"10.0.0.0/24", "10.0.0.0%2F24", "203.0.113.10", "2001:db8::/32"} {
			e, _, err := c.AccessList.Get(ctx, org, key.ID, addr)
			require.NoError(t, err, addr)
			assert.NotEmpty(t, e.Address(), addr)
		}
		n := 0
		for e, err := range c.AccessList.All(ctx, org, key.ID, &atlaskeys.ListOptions{ItemsPerPage: 1}) {
			require.NoError(t, err)
			assert.NotEmpty(t, e.CIDRBlock)
			n++
		}
		assert.Equal(t, 3, n)

		_, err = c.AccessList.Delete(ctx, org, key.ID, "10.0.0.0/24")
		require.NoError(t, err)
		_, _, err = c.AccessList.Get(ctx, org, key.ID, "10.0.0.0/24")
		assert.ErrorIs(t, err, atlaskeys.ErrNotFound)
		// The wire carried the CIDR escaped exactly once.
		var paths []string
		for _, r := range srv.Requests() {
			if r.Method == http.MethodDelete {
				paths = append(paths, r.Path)
			}
		}
		assert.Contains(t, paths, "/api/atlas/v2/orgs/"+org+"/apiKeys/"+key.ID+"/accessList/10.0.0.0%2F24")
	})

	t.Run("ProjectAPIKeys", func(t *testing.T) {
		key := newKey(t, c, org, "ops project")
		_, err := c.ProjectAPIKeys.Assign(ctx, project, key.ID, []string{atlaskeys.RoleGroupReadOnly})
		require.NoError(t, err)
		got, _, err := c.OrgAPIKeys.Get(ctx, org, key.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{atlaskeys.RoleGroupReadOnly}, got.ProjectRoles()[project])

		upd, _, err := c.ProjectAPIKeys.UpdateRoles(ctx, project, key.ID, &atlaskeys.UpdateAPIKeyRequest{Roles: []string{atlaskeys.RoleGroupOwner}})
		require.NoError(t, err)
		assert.Equal(t, []string{atlaskeys.RoleGroupOwner}, upd.ProjectRoles()[project])

		found := false
		for k, err := range c.ProjectAPIKeys.All(ctx, project, nil) {
			require.NoError(t, err)
			found = found || k.ID == key.ID
		}
		assert.True(t, found, "assigned key listed in the project")

		_, err = c.ProjectAPIKeys.Unassign(ctx, project, key.ID)
		require.NoError(t, err)
		got, _, err = c.OrgAPIKeys.Get(ctx, org, key.ID)
		require.NoError(t, err)
		assert.Empty(t, got.ProjectRoles())

		pk, _, err := c.ProjectAPIKeys.Create(ctx, project, &atlaskeys.CreateAPIKeyRequest{Desc: "project-made", Roles: []string{atlaskeys.RoleGroupReadOnly}})
		require.NoError(t, err)
		assert.NotEmpty(t, pk.PrivateKey.Reveal())
		assert.Equal(t, []string{atlaskeys.RoleGroupReadOnly}, pk.ProjectRoles()[project])
		page, _, err := c.ProjectAPIKeys.List(ctx, project, nil)
		require.NoError(t, err)
		assert.NotEmpty(t, page.Results)
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		key := newKey(t, c, org, "cascade")
		_, _, err := c.AccessList.Create(ctx, org, key.ID, []atlaskeys.AccessListRequest{{IPAddress: "198.51.100.7"}})
		require.NoError(t, err)
		_, err = c.ProjectAPIKeys.Assign(ctx, project, key.ID, []string{atlaskeys.RoleGroupReadOnly})
		require.NoError(t, err)
		_, err = c.OrgAPIKeys.Delete(ctx, org, key.ID)
		require.NoError(t, err)
		for k, err := range c.ProjectAPIKeys.All(ctx, project, nil) {
			require.NoError(t, err)
			assert.NotEqual(t, key.ID, k.ID)
		}
		_, _, err = c.AccessList.List(ctx, org, key.ID, nil)
		assert.ErrorIs(t, err, atlaskeys.ErrNotFound)
	})
}

func TestAtlastestErrors(t *testing.T) {
	t.Parallel()
	srv, c := fakeAtlas(t, nil)
	ctx := context.Background()
	org := srv.OrgID()

	t.Run("wrong credentials", func(t *testing.T) {
		pub, _ := srv.AdminKey()
		bad, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(pub, "not-the-secret"), atlaskeys.WithBaseURL(srv.URL))
		require.NoError(t, err)
		defer bad.Close(ctx)
		before := srv.Stats().Requests
		_, _, err = bad.OrgAPIKeys.List(ctx, org, nil)
		assert.ErrorIs(t, err, atlaskeys.ErrUnauthorized)
		assert.NotContains(t, err.Error(), "not-the-secret")
		assert.Equal(t, 2, srv.Stats().Requests-before, "one challenge and one signed attempt, no loop")
	})
	t.Run("missing role", func(t *testing.T) {
		low := srv.AddAPIKey(org, "read only", "ORG_READ_ONLY")
		lc, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(low.PublicKey, low.PrivateKey), atlaskeys.WithBaseURL(srv.URL))
		require.NoError(t, err)
		defer lc.Close(ctx)
		_, _, err = lc.OrgAPIKeys.Create(ctx, org, &atlaskeys.CreateAPIKeyRequest{Desc: "x", Roles: []string{atlaskeys.RoleOrgMember}})
		assert.ErrorIs(t, err, atlaskeys.ErrForbidden)
	})
	t.Run("unknown org", func(t *testing.T) {
		_, _, err := c.OrgAPIKeys.List(ctx, "aaaaaaaaaaaaaaaaaaaaaaaa", nil)
		var apiErr *atlaskeys.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.HTTPStatus)
		assert.Equal(t, "ORG_NOT_FOUND", apiErr.ErrorCode)
		assert.Equal(t, "GET", apiErr.Method)
		assert.Contains(t, apiErr.Path, "/orgs/aaaaaaaaaaaaaaaaaaaaaaaa/apiKeys")
	})
	t.Run("unsupported version", func(t *testing.T) {
		pub, priv := srv.AdminKey()
		vc, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(pub, priv), atlaskeys.WithBaseURL(srv.URL), atlaskeys.WithAPIVersion("2099-01-01"))
		require.NoError(t, err)
		defer vc.Close(ctx)
		_, _, err = vc.OrgAPIKeys.List(ctx, org, nil)
		var apiErr *atlaskeys.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotAcceptable, apiErr.HTTPStatus)
	})
	t.Run("invalid input sends nothing", func(t *testing.T) {
		before := srv.Stats().Requests
		_, _, err := c.AccessList.Create(ctx, org, srv.AdminKeyID(), []atlaskeys.AccessListRequest{{IPAddress: "10.0.0.300"}})
		assert.ErrorIs(t, err, atlaskeys.ErrInvalidArgument)
		assert.Contains(t, err.Error(), "entries[0].IPAddress")
		assert.Equal(t, before, srv.Stats().Requests)
	})
}

// TestDigestOneRoundTripOnAtlastest checks the headline claim end to end:
// after the first call, each call is one request and draws no challenge.
func TestDigestOneRoundTripOnAtlastest(t *testing.T) {
	t.Parallel()
	srv, c := fakeAtlas(t, nil)
	ctx := context.Background()
	const n = 200
	for i := 0; i < n; i++ {
		_, _, err := c.OrgAPIKeys.Get(ctx, srv.OrgID(), srv.AdminKeyID())
		require.NoError(t, err)
	}
	st := srv.Stats()
	assert.Equal(t, n+1, st.Requests, "one challenge, then one request per call")
	assert.Equal(t, 1, st.Challenges)
}

func TestErrorTextIsUseful(t *testing.T) {
	t.Parallel()
	srv, c := fakeAtlas(t, nil)
	_, _, err := c.OrgAPIKeys.Get(context.Background(), srv.OrgID(), "0123456789abcdef01234567")
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "GET /api/atlas/v2/orgs/"+srv.OrgID()+"/apiKeys/0123456789abcdef01234567: 404 ("), msg)
	assert.True(t, errors.Is(err, atlaskeys.ErrNotFound))
}
