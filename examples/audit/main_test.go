package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys/atlastest"
)

func TestAuditOnFakeAtlas(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, func(string) string { return "" }))
	s := out.String()
	assert.Contains(t, s, "auditing the built-in fake Atlas")
	assert.Contains(t, s, "6 API keys:")
	assert.Regexp(t, `ci deployer\s+ORG_MEMBER\s+[0-9a-f]{24}=GROUP_CLUSTER_MANAGER\s+203\.0\.113\.10 198\.51\.100\.0/24`, s)
	assert.Regexp(t, `dashboard \(open to the world\)\s+ORG_READ_ONLY\s+-\s+0\.0\.0\.0/0 ::/0`, s)

	// Exactly the findings the seed plants, in report order.
	kinds := map[string][]string{}
	descOf := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w{8})\s+(.+?)\s{2,}`).FindAllStringSubmatch(s, -1) {
		descOf[m[1]] = m[2]
	}
	for _, m := range regexp.MustCompile(`(?m)^  (\w+)\s+(\w{8}) \([0-9a-f]{24}\): `).FindAllStringSubmatch(s, -1) {
		kinds[descOf[m[2]]] = append(kinds[descOf[m[2]]], m[1])
	}
	assert.Equal(t, map[string][]string{
		"atlastest admin":               {"NO_ACCESS_LIST", "ORG_OWNER"},
		"analytics reader":              {"NO_ACCESS_LIST"},
		"dashboard (open to the world)": {"OPEN_ACCESS_LIST"},
		"terraform":                     {"ORG_OWNER"},
		"old intern script":             {"UNUSED"},
	}, kinds)
	assert.Contains(t, s, "6 findings:")
}

// TestAuditWithCredentials runs the real-Atlas path against a fake reached
// through ATLAS_BASE_URL.
func TestAuditWithCredentials(t *testing.T) {
	t.Parallel()
	srv := atlastest.NewServer()
	defer srv.Close()
	pub, priv := srv.AdminKey()
	env := map[string]string{"ATLAS_PUBLIC_KEY": pub, "ATLAS_PRIVATE_KEY": priv, "ATLAS_ORG_ID": srv.OrgID(), "ATLAS_BASE_URL": srv.URL}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, func(k string) string { return env[k] }))
	s := out.String()
	assert.Contains(t, s, "Auditing organization "+srv.OrgID()+" on real Atlas.")
	assert.Contains(t, s, "1 API keys:")
	assert.Contains(t, s, "2 findings:")
	assert.False(t, strings.Contains(s, priv))
}

func TestAuditNeedsAllCredentials(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ATLAS_PUBLIC_KEY": "abcdefgh"}
	err := run(context.Background(), &bytes.Buffer{}, func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ATLAS_ORG_ID")
}
