package atlaskeys

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// AccessListService manages the IP access list of an organization API key:
// the addresses the key may call Atlas from.
type AccessListService service

// List returns one page of the key's access-list entries.
//
//	GET /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}/accessList
func (s *AccessListService) List(ctx context.Context, orgID, apiKeyID string, opts *ListOptions) (*Page[AccessListEntry], *Response, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return nil, nil, err
	}
	u, err := s.client.listURL(s.client.apiRoot+"/orgs/"+orgID+"/apiKeys/"+apiKeyID+"/accessList", opts)
	if err != nil {
		return nil, nil, err
	}
	return callPage[AccessListEntry](ctx, s.client, http.MethodGet, u, nil)
}

// All iterates over every entry of the key's access list (see Items).
func (s *AccessListService) All(ctx context.Context, orgID, apiKeyID string, opts *ListOptions) iter.Seq2[*AccessListEntry, error] {
	return Items(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[AccessListEntry], *Response, error) {
		return s.List(ctx, orgID, apiKeyID, o)
	})
}

// Get returns one access-list entry. address is an IP address
// ("203.0.113.10", "2001:db8::1") or a CIDR block ("203.0.113.0/24"); it is
// escaped for the path exactly once, and an address that is already escaped
// ("203.0.113.0%2F24") is accepted as well.
//
//	GET /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}/accessList/{ipAddress}
func (s *AccessListService) Get(ctx context.Context, orgID, apiKeyID, address string) (*AccessListEntry, *Response, error) {
	u, err := s.entryURL(orgID, apiKeyID, address)
	if err != nil {
		return nil, nil, err
	}
	return call[AccessListEntry](ctx, s.client, http.MethodGet, u, nil)
}

// Create adds entries to the key's access list and returns the first page
// of the whole list. Each entry sets exactly one of IPAddress or CIDRBlock.
//
//	POST /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}/accessList
func (s *AccessListService) Create(ctx context.Context, orgID, apiKeyID string, entries []AccessListRequest) (*Page[AccessListEntry], *Response, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return nil, nil, err
	}
	if err := validateAccessListRequests(entries); err != nil {
		return nil, nil, err
	}
	return callPage[AccessListEntry](ctx, s.client, http.MethodPost, s.client.apiRoot+"/orgs/"+orgID+"/apiKeys/"+apiKeyID+"/accessList", entries)
}

// Delete removes one entry from the key's access list; address is given as
// for Get.
//
//	DELETE /api/atlas/v2/orgs/{orgId}/apiKeys/{apiUserId}/accessList/{ipAddress}
func (s *AccessListService) Delete(ctx context.Context, orgID, apiKeyID, address string) (*Response, error) {
	u, err := s.entryURL(orgID, apiKeyID, address)
	if err != nil {
		return nil, err
	}
	return s.client.do(ctx, http.MethodDelete, u, nil, nil)
}

func (s *AccessListService) entryURL(orgID, apiKeyID, address string) (string, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return "", err
	}
	seg, err := addressSegment(address)
	if err != nil {
		return "", err
	}
	return s.client.apiRoot + "/orgs/" + orgID + "/apiKeys/" + apiKeyID + "/accessList/" + seg, nil
}

// addressSegment validates an IP address or CIDR block and returns it
// escaped for one path segment ("10.0.0.0/24" becomes "10.0.0.0%2F24").
// An address the caller already escaped is unescaped first, so it is never
// escaped twice.
func addressSegment(address string) (string, error) {
	raw := address
	if strings.Contains(raw, "%") {
		un, err := url.PathUnescape(raw)
		if err != nil {
			return "", invalidArg("address", fmt.Sprintf("%q has a broken %%-escape", address))
		}
		raw = un
	}
	switch {
	case raw == "":
		return "", invalidArg("address", "must not be empty")
	case strings.Contains(raw, "/"):
		if _, err := netip.ParsePrefix(raw); err != nil {
			return "", invalidArg("address", fmt.Sprintf("%q is not a CIDR block such as 203.0.113.0/24", address))
		}
	default:
		if _, err := parseIP(raw); err != nil {
			return "", invalidArg("address", fmt.Sprintf("%q is not an IP address or CIDR block", address))
		}
	}
	return url.PathEscape(raw), nil
}
