package atlaskeys

import (
	"context"
	"iter"
	"net/http"

	"github.com/google/go-querystring/query"
)

// OrgAPIKeysService manages an organization's programmatic API keys.
// Atlas docs: https://www.mongodb.com/docs/atlas/reference/api-resources-spec/v2/#tag/Programmatic-API-Keys
type OrgAPIKeysService service

// List returns one page of the organization's API keys.
// The calling key needs the Organization Member role.
//
//	GET /api/atlas/v2/orgs/{orgId}/apiKeys
func (s *OrgAPIKeysService) List(ctx context.Context, orgID string, opts *ListOptions) (*Page[APIKey], *Response, error) {
	if err := checkID("orgID", orgID); err != nil {
		return nil, nil, err
	}
	u, err := s.client.listURL(s.client.apiRoot+"/orgs/"+orgID+"/apiKeys", opts)
	if err != nil {
		return nil, nil, err
	}
	return callPage[APIKey](ctx, s.client, http.MethodGet, u, nil)
}

// All iterates over every API key of the organization, fetching pages
// lazily (see Items). Set opts.FetchAhead to fetch pages concurrently.
func (s *OrgAPIKeysService) All(ctx context.Context, orgID string, opts *ListOptions) iter.Seq2[*APIKey, error] {
	return Items(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[APIKey], *Response, error) {
		return s.List(ctx, orgID, o)
	})
}

// Get returns one API key. Its PrivateKey is redacted by Atlas.
//
//	GET /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}
func (s *OrgAPIKeysService) Get(ctx context.Context, orgID, apiKeyID string) (*APIKey, *Response, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return nil, nil, err
	}
	return call[APIKey](ctx, s.client, http.MethodGet, s.client.apiRoot+"/orgs/"+orgID+"/apiKeys/"+apiKeyID, nil)
}

// Create creates an organization API key with organization roles (ORG_*).
// The returned key's PrivateKey is the only time Atlas shows the secret:
// read it with PrivateKey.Reveal() and store it.
//
//	POST /api/atlas/v2/orgs/{orgId}/apiKeys
func (s *OrgAPIKeysService) Create(ctx context.Context, orgID string, req *CreateAPIKeyRequest) (*APIKey, *Response, error) {
	if err := checkID("orgID", orgID); err != nil {
		return nil, nil, err
	}
	if err := req.validate(true); err != nil {
		return nil, nil, err
	}
	return call[APIKey](ctx, s.client, http.MethodPost, s.client.apiRoot+"/orgs/"+orgID+"/apiKeys", req)
}

// Update changes an API key's description, its organization roles, or both.
// Roles, when set, replace the key's organization roles.
//
//	PATCH /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}
func (s *OrgAPIKeysService) Update(ctx context.Context, orgID, apiKeyID string, req *UpdateAPIKeyRequest) (*APIKey, *Response, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return nil, nil, err
	}
	if err := req.validate(true, false); err != nil {
		return nil, nil, err
	}
	return call[APIKey](ctx, s.client, http.MethodPatch, s.client.apiRoot+"/orgs/"+orgID+"/apiKeys/"+apiKeyID, req)
}

// Delete deletes an API key, with its access list and project assignments.
//
//	DELETE /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}
func (s *OrgAPIKeysService) Delete(ctx context.Context, orgID, apiKeyID string) (*Response, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return nil, err
	}
	return s.client.do(ctx, http.MethodDelete, s.client.apiRoot+"/orgs/"+orgID+"/apiKeys/"+apiKeyID, nil, nil)
}

func checkIDs(arg1, id1, arg2, id2 string) error {
	if err := checkID(arg1, id1); err != nil {
		return err
	}
	return checkID(arg2, id2)
}

// listURL appends the encoded list options to u.
func (c *Client) listURL(u string, opts *ListOptions) (string, error) {
	if opts == nil {
		return u, nil
	}
	if err := opts.validate(); err != nil {
		return "", err
	}
	v, err := query.Values(opts)
	if err != nil {
		return "", invalidArg("opts", err.Error())
	}
	if q := v.Encode(); q != "" {
		u += "?" + q
	}
	return u, nil
}
