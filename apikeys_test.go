package atlaskeys

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyJSON is an ApiKeyUserDetails as Atlas returns it from a read: the
// private key redacted, org and project roles mixed.
const keyJSON = `{
  "desc": "ci deploy key",
  "id": "32b6e34b3d91647abb20e7b8",
  "links": [{"href": "https://cloud.mongodb.com/api/atlas/v2/orgs/4888442a3354817a7320eb61/apiKeys/32b6e34b3d91647abb20e7b8", "rel": "self"}],
  "privateKey": "********-****-****-e66d20841f3e",
  "publicKey": "zmmrboas",
  "roles": [
    {"orgId": "4888442a3354817a7320eb61", "roleName": "ORG_MEMBER"},
    {"groupId": "5f1d2c3b4a5968778695a4b3", "roleName": "GROUP_READ_ONLY"}
  ]
}`

// createdKeyJSON is the answer to a create call: the only time the private
// key is shown.
const createdKeyJSON = `{
  "desc": "ci deploy key",
  "id": "32b6e34b3d91647abb20e7b8",
  "privateKey": "55c3bbb6-b4bb-0be1-e66d20841f3e",
  "publicKey": "zmmrboas",
  "roles": [{"orgId": "4888442a3354817a7320eb61", "roleName": "ORG_MEMBER"}]
}`

const keyPageJSON = `{
  "links": [{"href": "https://cloud.mongodb.com/api/atlas/v2/orgs/4888442a3354817a7320eb61/apiKeys?pageNum=1&itemsPerPage=100", "rel": "self"}],
  "results": [` + keyJSON + `],
  "totalCount": 1
}`

func checkKey(t *testing.T, got any) {
	t.Helper()
	k, ok := got.(*APIKey)
	require.True(t, ok, "got %T", got)
	require.NotNil(t, k)
	assert.Equal(t, keyID, k.ID)
	assert.Equal(t, "ci deploy key", k.Desc)
	assert.Equal(t, "zmmrboas", k.PublicKey)
	assert.Equal(t, "********-****-****-e66d20841f3e", k.PrivateKey.Reveal())
	assert.Equal(t, []string{RoleOrgMember}, k.OrgRoles())
	assert.Equal(t, map[string][]string{groupID: {RoleGroupReadOnly}}, k.ProjectRoles())
	require.Len(t, k.Links, 1)
	assert.Equal(t, "self", k.Links[0].Rel)
}

func checkCreatedKey(t *testing.T, got any) {
	t.Helper()
	k, ok := got.(*APIKey)
	require.True(t, ok, "got %T", got)
	require.NotNil(t, k)
	assert.Equal(t, keyID, k.ID)
	assert.Equal(t, "55c3bbb6-b4bb-0be1-e66d20841f3e", k.PrivateKey.Reveal())
	assert.Equal(t, []RoleAssignment{{OrgID: orgID, RoleName: RoleOrgMember}}, k.Roles)
}

func checkKeyPage(t *testing.T, got any) {
	t.Helper()
	p, ok := got.(*Page[APIKey])
	require.True(t, ok, "got %T", got)
	require.NotNil(t, p)
	assert.True(t, p.HasTotalCount())
	assert.Equal(t, 1, p.TotalCount)
	require.Len(t, p.Results, 1)
	checkKey(t, &p.Results[0])
	assert.Empty(t, p.NextLink())
}

func TestOrgAPIKeys_Operations(t *testing.T) {
	t.Parallel()
	keyPath := "/orgs/" + orgID + "/apiKeys/" + keyID
	runOpCases(t, []opCase{
		{
			name: "List",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.OrgAPIKeys.List(ctx, orgID, nil)
			},
			method: http.MethodGet, path: "/orgs/" + orgID + "/apiKeys",
			status: 200, resp: keyPageJSON, check: checkKeyPage,
		},
		{
			name: "List with options",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.OrgAPIKeys.List(ctx, orgID, &ListOptions{PageNum: 2, ItemsPerPage: 50, IncludeCount: boolPtr(false), FetchAhead: 3})
			},
			method: http.MethodGet, path: "/orgs/" + orgID + "/apiKeys",
			query:  "includeCount=false&itemsPerPage=50&pageNum=2",
			status: 200, resp: `{"results": [], "links": []}`,
			check: func(t *testing.T, got any) {
				p := got.(*Page[APIKey])
				assert.False(t, p.HasTotalCount())
				assert.NotNil(t, p.Results)
				assert.Empty(t, p.Results)
			},
		},
		{
			name: "Get",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.OrgAPIKeys.Get(ctx, orgID, keyID)
			},
			method: http.MethodGet, path: keyPath,
			status: 200, resp: keyJSON, check: checkKey,
		},
		{
			name: "Create",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "ci deploy key", Roles: []string{RoleOrgMember}})
			},
			method: http.MethodPost, path: "/orgs/" + orgID + "/apiKeys",
			body:   `{"desc": "ci deploy key", "roles": ["ORG_MEMBER"]}`,
			status: 200, resp: createdKeyJSON, check: checkCreatedKey,
		},
		{
			name: "Update desc only",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.OrgAPIKeys.Update(ctx, orgID, keyID, &UpdateAPIKeyRequest{Desc: "renamed"})
			},
			method: http.MethodPatch, path: keyPath,
			body:   `{"desc": "renamed"}`,
			status: 200, resp: keyJSON, check: checkKey,
		},
		{
			name: "Update roles only",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.OrgAPIKeys.Update(ctx, orgID, keyID, &UpdateAPIKeyRequest{Roles: []string{RoleOrgReadOnly, RoleOrgBillingAdmin}})
			},
			method: http.MethodPatch, path: keyPath,
			body:   `{"roles": ["ORG_READ_ONLY", "ORG_BILLING_ADMIN"]}`,
			status: 200, resp: keyJSON, check: checkKey,
		},
		{
			name: "Delete",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				resp, err := c.OrgAPIKeys.Delete(ctx, orgID, keyID)
				return nil, resp, err
			},
			method: http.MethodDelete, path: keyPath,
			status: http.StatusNoContent,
		},
	})
}

// TestOrgAPIKeys_ValidIDs checks that ids Atlas accepts are sent unchanged.
func TestOrgAPIKeys_ValidIDs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
		testRawPath(t, r, "/api/atlas/v2/orgs/000000000000000000000000/apiKeys/abcdef0123456789abcdef01")
		w.WriteHeader(http.StatusNoContent)
	})
	_, err := f.client.OrgAPIKeys.Delete(context.Background(), "000000000000000000000000", "abcdef0123456789abcdef01")
	require.NoError(t, err)
	assert.Equal(t, 1, f.requests())
}

func TestOrgAPIKeys_Invalid(t *testing.T) {
	t.Parallel()
	okCreate := &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgMember}}
	long := strings.Repeat("é", 251) // 251 runes, 502 bytes
	cases := []invalidCase{
		// ids
		{"empty orgID", func(ctx context.Context, c *Client) error { return errOnly(c.OrgAPIKeys.Get(ctx, "", keyID)) }, "orgID"},
		{"uppercase orgID", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Get(ctx, strings.ToUpper(orgID), keyID))
		}, "orgID"},
		{"short orgID", func(ctx context.Context, c *Client) error { return errOnly(c.OrgAPIKeys.List(ctx, orgID[:23], nil)) }, "orgID"},
		{"long orgID", func(ctx context.Context, c *Client) error { return errOnly(c.OrgAPIKeys.List(ctx, orgID+"0", nil)) }, "orgID"},
		{"non-hex orgID", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.List(ctx, "4888442a3354817a7320eb6g", nil))
		}, "orgID"},
		{"path in orgID", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.List(ctx, "../../../../../../orgs/x", nil))
		}, "orgID"},
		{"public key as apiKeyID", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Get(ctx, orgID, "zmmrboas"))
		}, "apiKeyID"},
		{"empty apiKeyID", func(ctx context.Context, c *Client) error { _, err := c.OrgAPIKeys.Delete(ctx, orgID, ""); return err }, "apiKeyID"},
		{"uppercase apiKeyID on Update", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Update(ctx, orgID, strings.ToUpper(keyID), &UpdateAPIKeyRequest{Desc: "x"}))
		}, "apiKeyID"},
		{"bad orgID on Create", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, "x", okCreate))
		}, "orgID"},
		// create body
		{"nil create request", func(ctx context.Context, c *Client) error { return errOnly(c.OrgAPIKeys.Create(ctx, orgID, nil)) }, "req"},
		{"empty desc", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Roles: []string{RoleOrgMember}}))
		}, "req.Desc"},
		{"desc of 251 runes", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: long, Roles: []string{RoleOrgMember}}))
		}, "req.Desc"},
		{"no roles", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "d"}))
		}, "req.Roles"},
		{"project role on an org key", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgMember, RoleGroupOwner}}))
		}, "req.Roles[1]"},
		{"unknown org role", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{"ORG_EVERYTHING"}}))
		}, "req.Roles[0]"},
		{"lowercase org role", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{"org_member"}}))
		}, "req.Roles[0]"},
		{"empty role", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{""}}))
		}, "req.Roles[0]"},
		{"role with spaces", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Create(ctx, orgID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{" ORG_MEMBER"}}))
		}, "req.Roles[0]"},
		// update body
		{"nil update request", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Update(ctx, orgID, keyID, nil))
		}, "req"},
		{"empty update", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Update(ctx, orgID, keyID, &UpdateAPIKeyRequest{}))
		}, "req"},
		{"update desc too long", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Update(ctx, orgID, keyID, &UpdateAPIKeyRequest{Desc: long}))
		}, "req.Desc"},
		{"update with project role", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.Update(ctx, orgID, keyID, &UpdateAPIKeyRequest{Roles: []string{RoleGroupReadOnly}}))
		}, "req.Roles[0]"},
		// list options
		{"negative PageNum", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.List(ctx, orgID, &ListOptions{PageNum: -1}))
		}, "opts.PageNum"},
		{"ItemsPerPage above 500", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.List(ctx, orgID, &ListOptions{ItemsPerPage: 501}))
		}, "opts.ItemsPerPage"},
		{"negative ItemsPerPage", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.List(ctx, orgID, &ListOptions{ItemsPerPage: -1}))
		}, "opts.ItemsPerPage"},
		{"negative FetchAhead", func(ctx context.Context, c *Client) error {
			return errOnly(c.OrgAPIKeys.List(ctx, orgID, &ListOptions{FetchAhead: -1}))
		}, "opts.FetchAhead"},
	}
	runInvalidCases(t, cases)
}

// TestCheckID_Messages checks that the message helps the caller fix the id.
func TestCheckID_Messages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, want string
	}{
		{"", "must not be empty"},
		{"zmmrboas", "8-character public key"},
		{strings.ToUpper(orgID), "lowercase"},
		{"4888442a3354817a7320eb6g", "0-9, a-f"},
		{"4888442A3354817A7320EB6G", "0-9, a-f"}, // not hex even in lowercase
		{"abc", "3 characters"},
	}
	for _, tt := range tests {
		err := checkID("orgID", tt.id)
		require.Error(t, err, tt.id)
		assert.ErrorIs(t, err, ErrInvalidArgument)
		assert.Contains(t, err.Error(), tt.want, tt.id)
		assert.Contains(t, err.Error(), "orgID", tt.id)
	}
	assert.NoError(t, checkID("orgID", orgID))
}

// TestDescLimitIsRunes checks that 250 multi-byte characters are accepted.
func TestDescLimitIsRunes(t *testing.T) {
	t.Parallel()
	desc := strings.Repeat("ü", 250)
	f := setup(t)
	f.mux.HandleFunc("POST /api/atlas/v2/orgs/{org}/apiKeys", func(w http.ResponseWriter, r *http.Request) {
		testBody(t, r, string(mustJSON(t, map[string]any{"desc": desc, "roles": []string{RoleOrgOwner}})))
		writeJSON(w, 200, createdKeyJSON)
	})
	_, _, err := f.client.OrgAPIKeys.Create(context.Background(), orgID, &CreateAPIKeyRequest{Desc: desc, Roles: []string{RoleOrgOwner}})
	require.NoError(t, err)
	assert.Equal(t, 1, f.requests())
}
