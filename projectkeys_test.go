package atlaskeys

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// projectKeyJSON is the answer to a project create or role update.
const projectKeyJSON = `{
  "desc": "ci deploy key",
  "id": "32b6e34b3d91647abb20e7b8",
  "links": [{"href": "https://cloud.mongodb.com/api/atlas/v2/groups/5f1d2c3b4a5968778695a4b3/apiKeys/32b6e34b3d91647abb20e7b8", "rel": "self"}],
  "privateKey": "********-****-****-e66d20841f3e",
  "publicKey": "zmmrboas",
  "roles": [
    {"orgId": "4888442a3354817a7320eb61", "roleName": "ORG_MEMBER"},
    {"groupId": "5f1d2c3b4a5968778695a4b3", "roleName": "GROUP_READ_ONLY"}
  ]
}`

func TestProjectAPIKeys_Operations(t *testing.T) {
	t.Parallel()
	keyPath := "/groups/" + groupID + "/apiKeys/" + keyID
	runOpCases(t, []opCase{
		{
			name: "List",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.ProjectAPIKeys.List(ctx, groupID, nil)
			},
			method: http.MethodGet, path: "/groups/" + groupID + "/apiKeys",
			status: 200, resp: keyPageJSON, check: checkKeyPage,
		},
		{
			name: "List with count",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.ProjectAPIKeys.List(ctx, groupID, &ListOptions{IncludeCount: boolPtr(true), ItemsPerPage: 500})
			},
			method: http.MethodGet, path: "/groups/" + groupID + "/apiKeys", query: "includeCount=true&itemsPerPage=500",
			status: 200, resp: keyPageJSON, check: checkKeyPage,
		},
		{
			name: "Create",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.ProjectAPIKeys.Create(ctx, groupID, &CreateAPIKeyRequest{Desc: "ci deploy key", Roles: []string{RoleGroupReadOnly, "GROUP_SOMETHING_NEW"}})
			},
			method: http.MethodPost, path: "/groups/" + groupID + "/apiKeys",
			body:   `{"desc":"ci deploy key","roles":["GROUP_READ_ONLY","GROUP_SOMETHING_NEW"]}`,
			status: 200, resp: projectKeyJSON, check: checkKey,
		},
		{
			name: "Assign",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				resp, err := c.ProjectAPIKeys.Assign(ctx, groupID, keyID, []string{RoleGroupOwner, RoleGroupReadOnly})
				return nil, resp, err
			},
			method: http.MethodPost, path: keyPath,
			body:   `[{"roles":["GROUP_OWNER","GROUP_READ_ONLY"]}]`,
			status: http.StatusNoContent,
		},
		{
			name: "UpdateRoles",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.ProjectAPIKeys.UpdateRoles(ctx, groupID, keyID, &UpdateAPIKeyRequest{Roles: []string{RoleGroupReadOnly}})
			},
			method: http.MethodPatch, path: keyPath,
			body:   `{"roles":["GROUP_READ_ONLY"]}`,
			status: 200, resp: projectKeyJSON, check: checkKey,
		},
		{
			name: "UpdateRoles with desc",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.ProjectAPIKeys.UpdateRoles(ctx, groupID, keyID, &UpdateAPIKeyRequest{Desc: "ci deploy key", Roles: []string{RoleGroupReadOnly}})
			},
			method: http.MethodPatch, path: keyPath,
			body:   `{"desc":"ci deploy key","roles":["GROUP_READ_ONLY"]}`,
			status: 200, resp: projectKeyJSON, check: checkKey,
		},
		{
			name: "Unassign",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				resp, err := c.ProjectAPIKeys.Unassign(ctx, groupID, keyID)
				return nil, resp, err
			},
			method: http.MethodDelete, path: keyPath,
			status: http.StatusNoContent,
		},
	})
}

func TestProjectAPIKeys_Invalid(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{"List bad groupID", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.List(ctx, strings.ToUpper(groupID), nil))
		}, "groupID"},
		{"List bad options", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.List(ctx, groupID, &ListOptions{ItemsPerPage: 1000}))
		}, "opts.ItemsPerPage"},
		{"Create empty groupID", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.Create(ctx, "", &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleGroupOwner}}))
		}, "groupID"},
		{"Create nil request", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.Create(ctx, groupID, nil))
		}, "req"},
		{"Create org role", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.Create(ctx, groupID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleGroupOwner, RoleOrgOwner}}))
		}, "req.Roles[1]"},
		{"Create no roles", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.Create(ctx, groupID, &CreateAPIKeyRequest{Desc: "d", Roles: []string{}}))
		}, "req.Roles"},
		{"Create no desc", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.Create(ctx, groupID, &CreateAPIKeyRequest{Roles: []string{RoleGroupOwner}}))
		}, "req.Desc"},
		{"Assign no roles", func(ctx context.Context, c *Client) error {
			_, err := c.ProjectAPIKeys.Assign(ctx, groupID, keyID, nil)
			return err
		}, "roles"},
		{"Assign org role", func(ctx context.Context, c *Client) error {
			_, err := c.ProjectAPIKeys.Assign(ctx, groupID, keyID, []string{RoleOrgMember})
			return err
		}, "roles[0]"},
		{"Assign empty role", func(ctx context.Context, c *Client) error {
			_, err := c.ProjectAPIKeys.Assign(ctx, groupID, keyID, []string{RoleGroupOwner, ""})
			return err
		}, "roles[1]"},
		{"Assign public key", func(ctx context.Context, c *Client) error {
			_, err := c.ProjectAPIKeys.Assign(ctx, groupID, "zmmrboas", []string{RoleGroupOwner})
			return err
		}, "apiKeyID"},
		{"UpdateRoles nil", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.UpdateRoles(ctx, groupID, keyID, nil))
		}, "req"},
		{"UpdateRoles desc only", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.UpdateRoles(ctx, groupID, keyID, &UpdateAPIKeyRequest{Desc: "d"}))
		}, "req.Roles"},
		{"UpdateRoles org role", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.UpdateRoles(ctx, groupID, keyID, &UpdateAPIKeyRequest{Roles: []string{RoleOrgReadOnly}}))
		}, "req.Roles[0]"},
		{"UpdateRoles desc too long", func(ctx context.Context, c *Client) error {
			return errOnly(c.ProjectAPIKeys.UpdateRoles(ctx, groupID, keyID, &UpdateAPIKeyRequest{Desc: strings.Repeat("x", 251), Roles: []string{RoleGroupOwner}}))
		}, "req.Desc"},
		{"Unassign bad groupID", func(ctx context.Context, c *Client) error {
			_, err := c.ProjectAPIKeys.Unassign(ctx, "g", keyID)
			return err
		}, "groupID"},
		{"Unassign bad apiKeyID", func(ctx context.Context, c *Client) error {
			_, err := c.ProjectAPIKeys.Unassign(ctx, groupID, keyID+"0")
			return err
		}, "apiKeyID"},
	})
}
