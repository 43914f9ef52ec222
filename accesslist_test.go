package atlaskeys

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entryJSON is a UserAccessListResponse as Atlas returns it.
const entryJSON = `{
  "cidrBlock": "203.0.113.0/24",
  "count": 3,
  "created": "2024-05-01T12:30:00Z",
  "lastUsed": "2024-06-02T08:00:05Z",
  "lastUsedAddress": "203.0.113.10",
  "links": [{"href": "https://cloud.mongodb.com/api/atlas/v2/orgs/4888442a3354817a7320eb61/apiKeys/32b6e34b3d91647abb20e7b8/accessList/203.0.113.0%2F24", "rel": "self"}]
}`

const entryPageJSON = `{
  "links": [{"href": "https://cloud.mongodb.com/api/atlas/v2/orgs/4888442a3354817a7320eb61/apiKeys/32b6e34b3d91647abb20e7b8/accessList?pageNum=1&itemsPerPage=100", "rel": "self"}],
  "results": [
    ` + entryJSON + `,
    {"ipAddress": "2001:db8::1", "count": 0, "created": "2024-05-01T12:31:00Z"}
  ],
  "totalCount": 2
}`

func checkEntry(t *testing.T, got any) {
	t.Helper()
	e, ok := got.(*AccessListEntry)
	require.True(t, ok, "got %T", got)
	require.NotNil(t, e)
	assert.Equal(t, "203.0.113.0/24", e.CIDRBlock)
	assert.Equal(t, "203.0.113.0/24", e.Address())
	assert.Empty(t, e.IPAddress)
	assert.Equal(t, 3, e.Count)
	assert.Equal(t, "203.0.113.10", e.LastUsedAddress)
	assert.True(t, e.Created.Equal(time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)), "created %v", e.Created)
	require.NotNil(t, e.LastUsed)
	assert.True(t, e.LastUsed.Equal(time.Date(2024, 6, 2, 8, 0, 5, 0, time.UTC)), "lastUsed %v", e.LastUsed)
	require.Len(t, e.Links, 1)
}

func checkEntryPage(t *testing.T, got any) {
	t.Helper()
	p, ok := got.(*Page[AccessListEntry])
	require.True(t, ok, "got %T", got)
	require.NotNil(t, p)
	assert.Equal(t, 2, p.TotalCount)
	require.Len(t, p.Results, 2)
	checkEntry(t, &p.Results[0])
	assert.Equal(t, "2001:db8::1", p.Results[1].Address())
	assert.Nil(t, p.Results[1].LastUsed)
}

func TestAccessList_Operations(t *testing.T) {
	t.Parallel()
	listPath := "/orgs/" + orgID + "/apiKeys/" + keyID + "/accessList"
	runOpCases(t, []opCase{
		{
			name: "List",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.AccessList.List(ctx, orgID, keyID, nil)
			},
			method: http.MethodGet, path: listPath,
			status: 200, resp: entryPageJSON, check: checkEntryPage,
		},
		{
			name: "List page 3",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.AccessList.List(ctx, orgID, keyID, &ListOptions{PageNum: 3, ItemsPerPage: 1})
			},
			method: http.MethodGet, path: listPath, query: "itemsPerPage=1&pageNum=3",
			status: 200, resp: entryPageJSON, check: checkEntryPage,
		},
		{
			name: "Create",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.AccessList.Create(ctx, orgID, keyID, []AccessListRequest{
					{IPAddress: "203.0.113.10"},
					{CIDRBlock: "203.0.113.0/24"},
					{IPAddress: "2001:db8::1"},
					{CIDRBlock: "2001:db8::/32"},
				})
			},
			method: http.MethodPost, path: listPath,
			body:   `[{"ipAddress":"203.0.113.10"},{"cidrBlock":"203.0.113.0/24"},{"ipAddress":"2001:db8::1"},{"cidrBlock":"2001:db8::/32"}]`,
			status: 200, resp: entryPageJSON, check: checkEntryPage,
		},
		{
			name: "Get CIDR block",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				return c.AccessList.Get(ctx, orgID, keyID, "203.0.113.0/24")
			},
			method: http.MethodGet, path: listPath + "/203.0.113.0%2F24",
			status: 200, resp: entryJSON, check: checkEntry,
		},
		{
			name: "Delete IP address",
			call: func(ctx context.Context, c *Client) (any, *Response, error) {
				resp, err := c.AccessList.Delete(ctx, orgID, keyID, "203.0.113.10")
				return nil, resp, err
			},
			method: http.MethodDelete, path: listPath + "/203.0.113.10",
			status: http.StatusNoContent,
		},
	})
}

// TestAccessList_AddressEscaping checks the one encoding of the {ipAddress}
// segment: a "/" becomes %2F exactly once, whether or not the caller escaped
// it already.
func TestAccessList_AddressEscaping(t *testing.T) {
	t.Parallel()
	base := "/api/atlas/v2/orgs/" + orgID + "/apiKeys/" + keyID + "/accessList/"
	tests := []struct {
		address string
		want    string // escaped segment
	}{
		{"10.0.0.0/24", "10.0.0.0%2F24"},
		{"10.0.0.0%2F24", "10.0.0.0%2F24"},
		{"10.0.0.0%2f24", "10.0.0.0%2F24"},
		{"10.0.0.1", "10.0.0.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:db8::/32", "2001:db8::%2F32"},
		{"2001:db8::%2F32", "2001:db8::%2F32"},
		{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:0db8:0000:0000:0000:0000:0000:0001"},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			var paths []string
			f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
				paths = append(paths, r.Method+" "+r.URL.EscapedPath())
				if r.Method == http.MethodDelete {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				writeJSON(w, 200, entryJSON)
			})
			ctx := context.Background()
			_, _, err := f.client.AccessList.Get(ctx, orgID, keyID, tt.address)
			require.NoError(t, err)
			_, err = f.client.AccessList.Delete(ctx, orgID, keyID, tt.address)
			require.NoError(t, err)
			assert.Equal(t, []string{"GET " + base + tt.want, "DELETE " + base + tt.want}, paths)
		})
	}
}

func TestAccessList_Invalid(t *testing.T) {
	t.Parallel()
	get := func(addr string) func(ctx context.Context, c *Client) error {
		return func(ctx context.Context, c *Client) error { return errOnly(c.AccessList.Get(ctx, orgID, keyID, addr)) }
	}
	del := func(addr string) func(ctx context.Context, c *Client) error {
		return func(ctx context.Context, c *Client) error {
			_, err := c.AccessList.Delete(ctx, orgID, keyID, addr)
			return err
		}
	}
	create := func(entries ...AccessListRequest) func(ctx context.Context, c *Client) error {
		return func(ctx context.Context, c *Client) error {
			return errOnly(c.AccessList.Create(ctx, orgID, keyID, entries))
		}
	}
	runInvalidCases(t, []invalidCase{
		{"Get empty address", get(""), "address"},
		{"Get hostname", get("example.com"), "address"},
		{"Get IPv4 out of range", get("256.1.1.1"), "address"},
		{"Get prefix too long", get("10.0.0.0/33"), "address"},
		{"Get double-escaped", get("10.0.0.0%252F24"), "address"},
		{"Get broken escape", get("10.0.0.0%2"), "address"},
		{"Get zone", get("fe80::1%25eth0"), "address"},
		{"Get path traversal", get("../../x"), "address"},
		{"Delete garbage", del("not-an-ip"), "address"},
		{"Delete IPv6 prefix too long", del("2001:db8::/129"), "address"},
		{"Get bad orgID", func(ctx context.Context, c *Client) error {
			return errOnly(c.AccessList.Get(ctx, "x", keyID, "10.0.0.1"))
		}, "orgID"},
		{"Delete bad apiKeyID", func(ctx context.Context, c *Client) error {
			_, err := c.AccessList.Delete(ctx, orgID, "zmmrboas", "10.0.0.1")
			return err
		}, "apiKeyID"},
		{"List bad apiKeyID", func(ctx context.Context, c *Client) error {
			return errOnly(c.AccessList.List(ctx, orgID, "", nil))
		}, "apiKeyID"},
		{"List bad options", func(ctx context.Context, c *Client) error {
			return errOnly(c.AccessList.List(ctx, orgID, keyID, &ListOptions{PageNum: -2}))
		}, "opts.PageNum"},
		{"Create no entries", create(), "entries"},
		{"Create nil entries", func(ctx context.Context, c *Client) error {
			return errOnly(c.AccessList.Create(ctx, orgID, keyID, nil))
		}, "entries"},
		{"Create empty entry", create(AccessListRequest{}), "entries[0]"},
		{"Create both fields", create(AccessListRequest{IPAddress: "10.0.0.1", CIDRBlock: "10.0.0.0/24"}), "entries[0]"},
		{"Create bad IP", create(AccessListRequest{IPAddress: "10.0.0.1"}, AccessListRequest{IPAddress: "10.0.0"}), "entries[1].IPAddress"},
		{"Create CIDR as IP", create(AccessListRequest{IPAddress: "10.0.0.0/24"}), "entries[0].IPAddress"},
		{"Create IP as CIDR", create(AccessListRequest{CIDRBlock: "10.0.0.1"}), "entries[0].CIDRBlock"},
		{"Create bad CIDR", create(AccessListRequest{CIDRBlock: "10.0.0.0/99"}), "entries[0].CIDRBlock"},
		{"Create bad orgID", func(ctx context.Context, c *Client) error {
			return errOnly(c.AccessList.Create(ctx, orgID[1:], keyID, []AccessListRequest{{IPAddress: "10.0.0.1"}}))
		}, "orgID"},
	})
}
