package contracttest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// Single IPv6 addresses run into a documented oddity of the spec (see
// shared/spec/README.md): UserAccessListRequest.ipAddress and
// UserAccessListResponse.ipAddress accept only the full eight-group form,
// UserAccessListResponse.cidrBlock rejects a compressed address with
// trailing groups ("2001:db8::1/128"), and so does the {ipAddress} path
// pattern ("2001:db8::1"). Whether Atlas enforces any of this is unknown.
//
// So this test runs on a server whose middleware records into a private
// tally, kept out of the global verdict, and asserts that the only
// violations are those IPv6 pattern ones (any other kind fails it). Each
// one is logged, so the divergence stays visible. IPv6 CIDR blocks ending in
// "::" ("2001:db8::/32") satisfy every pattern and are covered strictly by
// TestAccessList.
func TestAccessListIPv6Address(t *testing.T) {
	t.Parallel()
	requireContract(t)
	odd := &Tally{}
	srv := atlastest.NewServer(atlastest.WithMiddleware(contract.Middleware(odd)))
	t.Cleanup(srv.Close)
	pub, priv := srv.AdminKey()
	c, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(pub, priv), atlaskeys.WithBaseURL(srv.URL))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx := context.Background()
	org := srv.OrgID()
	key := srv.AddAPIKey(org, "ipv6", atlaskeys.RoleOrgMember)

	const (
		full       = "2001:db8:0:0:0:0:0:1" // the form the spec's patterns accept
		compressed = "2001:db8::2"          // the usual form; the client accepts it
	)
	for _, addr := range []string{full, compressed} {
		_, _, err := c.AccessList.Create(ctx, org, key.ID, []atlaskeys.AccessListRequest{{IPAddress: addr}})
		require.NoError(t, err, addr)
		e, _, err := c.AccessList.Get(ctx, org, key.ID, addr)
		require.NoError(t, err, addr)
		assert.NotEmpty(t, e.IPAddress)
		_, err = c.AccessList.Delete(ctx, org, key.ID, addr)
		require.NoError(t, err, addr)
	}

	n := odd.Counts()
	require.Positive(t, n.Requests)
	kinds := map[string]bool{}
	for _, v := range n.Violations {
		k := ipv6Oddity(v.Message)
		if k == "" {
			t.Errorf("contract violation (not an IPv6 pattern oddity): %s", v)
			continue
		}
		kinds[k] = true
		t.Logf("IPv6 spec oddity: %s", v)
	}
	t.Logf("IPv6 spec oddities seen: %v", sortedSet(kinds))
}

var (
	schemaPatternErr = regexp.MustCompile(`at (/\S+): string doesn't match the regular expression .*? \(value "([^"]*)"\)`)
	rawSegmentErr    = regexp.MustCompile(`raw segment "([^"]*)" does not match`)
)

// ipv6Oddity classifies a violation message as one of the IPv6 pattern
// oddities, or returns "".
func ipv6Oddity(msg string) string {
	if m := rawSegmentErr.FindStringSubmatch(msg); m != nil {
		if strings.Contains(m[1], ":") {
			return "path {ipAddress}"
		}
		return ""
	}
	ms := schemaPatternErr.FindAllStringSubmatch(msg, -1)
	if len(ms) == 0 || len(ms) != strings.Count(msg, "at /") {
		return ""
	}
	side := "response"
	if strings.HasPrefix(msg, "request:") {
		side = "request"
	}
	var fields []string
	for _, m := range ms {
		field := m[1][strings.LastIndex(m[1], "/")+1:]
		if (field != "ipAddress" && field != "cidrBlock") || !strings.Contains(m[2], ":") {
			return ""
		}
		fields = append(fields, field)
	}
	return side + " " + strings.Join(fields, "+")
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
