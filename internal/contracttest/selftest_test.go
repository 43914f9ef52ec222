package contracttest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// TestValidatorCatchesViolations proves the middleware is not vacuous: it
// sends traffic that breaks the contract to a server whose middleware
// records into a private tally (not the global one), and checks each
// violation is reported.
func TestValidatorCatchesViolations(t *testing.T) {
	t.Parallel()
	requireContract(t)
	local := &Tally{}
	srv := atlastest.NewServer(atlastest.WithMiddleware(contract.Middleware(local)))
	defer srv.Close()
	pub, priv := srv.AdminKey()
	org, key := srv.OrgID(), srv.AdminKeyID()
	require.NoError(t, srv.AddAccessListEntry(org, key, "198.51.100.0/24"))
	list := "/api/atlas/v2/orgs/" + org + "/apiKeys/" + key + "/accessList"

	cases := []struct {
		method, path, body string
		want               []string // substrings of the violations expected
	}{
		{http.MethodGet, "/api/atlas/v2/orgs/" + org + "/nothing", "", []string{"no operation in the spec"}},
		{http.MethodGet, "/api/atlas/v2/orgs/" + org + "/apiKeys?itemsPerPage=501", "", []string{`request: query parameter "itemsPerPage"`, "-> 400: response: status is not supported"}},
		{http.MethodGet, "/api/atlas/v2/orgs/not-an-org/apiKeys", "", []string{`request: path parameter "orgId"`}},
		{http.MethodPost, list, `[{"ipAddress":"203.0.113.300"}]`, []string{"request: body: doesn't match schema: at /0/ipAddress"}},
		{http.MethodPost, "/api/atlas/v2/orgs/" + org + "/apiKeys", `{"desc":"x","roles":["GROUP_OWNER"]}`, []string{"request: body: doesn't match schema", "at /roles/0"}},
		// Encoded twice. The spec's pattern accepts it (its first
		// alternative is not anchored at the end); the extra check does not.
		{http.MethodGet, list + "/198.51.100.0%252F24", "", []string{`raw segment "198.51.100.0%252F24" is escaped more than once`}},
		{http.MethodGet, list + "/not-an-ip", "", []string{`raw segment "not-an-ip" does not match`}},
		// Compressed IPv6 with trailing groups is outside the path pattern.
		{http.MethodGet, list + "/2001:db8::1", "", []string{`raw segment "2001:db8::1" does not match`}},
	}
	for _, tc := range cases {
		before := len(local.Counts().Violations)
		rawRequest(t, srv.URL, pub, priv, tc.method, tc.path, tc.body)
		got := local.Counts().Violations[before:]
		for _, w := range tc.want {
			assert.True(t, containsViolation(got, w), "%s %s: want a violation containing %q, got %v", tc.method, tc.path, w, got)
		}
	}

	// The well-formed %2F segment passes the raw check.
	before := len(local.Counts().Violations)
	status, body := rawRequest(t, srv.URL, pub, priv, http.MethodGet, list+"/198.51.100.0%2F24", "")
	assert.Equal(t, http.StatusOK, status, body)
	assert.Empty(t, local.Counts().Violations[before:])

	// Responses: a stub that answers with a body of the wrong shape and an
	// undeclared status.
	stub := httptest.NewServer(contract.Middleware(local)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/apiKeys") {
			w.Header().Set("Content-Type", vendorJSON)
			_, _ = w.Write([]byte(`{"results":"nope","totalCount":-1}`))
			return
		}
		w.WriteHeader(http.StatusTeapot)
	})))
	defer stub.Close()
	for path, want := range map[string]string{
		"/api/atlas/v2/orgs/" + org + "/apiKeys":        "response body doesn't match schema",
		"/api/atlas/v2/orgs/" + org + "/apiKeys/" + key: "-> 418: response: status is not supported",
	} {
		req, err := http.NewRequest(http.MethodGet, stub.URL+path, nil)
		require.NoError(t, err)
		resp, err := stub.Client().Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		vs := local.Counts().Violations
		assert.True(t, containsViolation(vs, want), "want a violation containing %q, got %v", want, vs)
	}
}

func containsViolation(vs []Violation, substr string) bool {
	for _, v := range vs {
		if strings.Contains(v.String(), substr) {
			return true
		}
	}
	return false
}
