package atlaskeys

import (
	"context"
	"iter"
	"net/http"
)

// ProjectAPIKeysService manages organization API keys' access to projects
// (Atlas calls a project a group, hence groupID).
type ProjectAPIKeysService service

// List returns one page of the API keys assigned to the project.
//
//	GET /api/atlas/v2/groups/{groupId}/apiKeys
func (s *ProjectAPIKeysService) List(ctx context.Context, groupID string, opts *ListOptions) (*Page[APIKey], *Response, error) {
	if err := checkID("groupID", groupID); err != nil {
		return nil, nil, err
	}
	u, err := s.client.listURL(s.client.apiRoot+"/groups/"+groupID+"/apiKeys", opts)
	if err != nil {
		return nil, nil, err
	}
	return callPage[APIKey](ctx, s.client, http.MethodGet, u, nil)
}

// All iterates over every API key assigned to the project (see Items).
func (s *ProjectAPIKeysService) All(ctx context.Context, groupID string, opts *ListOptions) iter.Seq2[*APIKey, error] {
	return Items(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[APIKey], *Response, error) {
		return s.List(ctx, groupID, o)
	})
}

// Create creates an organization API key and assigns it to the project with
// project roles (GROUP_*). As with OrgAPIKeys.Create, the returned
// PrivateKey is shown this once.
//
//	POST /api/atlas/v2/groups/{groupId}/apiKeys
func (s *ProjectAPIKeysService) Create(ctx context.Context, groupID string, req *CreateAPIKeyRequest) (*APIKey, *Response, error) {
	if err := checkID("groupID", groupID); err != nil {
		return nil, nil, err
	}
	if err := req.validate(false); err != nil {
		return nil, nil, err
	}
	return call[APIKey](ctx, s.client, http.MethodPost, s.client.apiRoot+"/groups/"+groupID+"/apiKeys", req)
}

// Assign gives an existing organization API key the project roles roles.
//
//	POST /api/atlas/v2/groups/{groupId}/apiKeys/{apiUserId}
func (s *ProjectAPIKeysService) Assign(ctx context.Context, groupID, apiKeyID string, roles []string) (*Response, error) {
	if err := checkIDs("groupID", groupID, "apiKeyID", apiKeyID); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, invalidArg("roles", "must hold at least one role")
	}
	if err := checkRoles("roles", roles, false); err != nil {
		return nil, err
	}
	body := []projectRoleAssignment{{Roles: roles}}
	return s.client.do(ctx, http.MethodPost, s.client.apiRoot+"/groups/"+groupID+"/apiKeys/"+apiKeyID, body, nil)
}

// UpdateRoles replaces the key's roles in the project with req.Roles (a
// role left out is removed) and can change its description.
//
//	PATCH /api/atlas/v2/groups/{groupId}/apiKeys/{apiUserId}
func (s *ProjectAPIKeysService) UpdateRoles(ctx context.Context, groupID, apiKeyID string, req *UpdateAPIKeyRequest) (*APIKey, *Response, error) {
	if err := checkIDs("groupID", groupID, "apiKeyID", apiKeyID); err != nil {
		return nil, nil, err
	}
	if err := req.validate(false, true); err != nil {
		return nil, nil, err
	}
	return call[APIKey](ctx, s.client, http.MethodPatch, s.client.apiRoot+"/groups/"+groupID+"/apiKeys/"+apiKeyID, req)
}

// Unassign removes the key from the project (the key itself remains).
//
//	DELETE /api/atlas/v2/groups/{groupId}/apiKeys/{apiUserId}
func (s *ProjectAPIKeysService) Unassign(ctx context.Context, groupID, apiKeyID string) (*Response, error) {
	if err := checkIDs("groupID", groupID, "apiKeyID", apiKeyID); err != nil {
		return nil, err
	}
	return s.client.do(ctx, http.MethodDelete, s.client.apiRoot+"/groups/"+groupID+"/apiKeys/"+apiKeyID, nil, nil)
}
