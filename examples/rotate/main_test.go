package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys/atlastest"
)

func TestRotateOnFakeAtlas(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, func(string) string { return "" }))
	s := out.String()
	for _, want := range []string{
		"using the built-in fake Atlas",
		"access list: 203.0.113.10 (address), 198.51.100.0/24 (block), 2001:db8:abcd::/48 (block)",
		"organization roles [ORG_MEMBER ORG_READ_ONLY]",
		"organization roles, project roles and access list identical: true",
		"resumed: true, same replacement: true, changes made: 0, secret available: false",
		"errors.Is(err, atlaskeys.ErrServer): true",
		"organization exactly as before: true",
		"old key deleted: true",
		"[REDACTED]",
	} {
		assert.Contains(t, s, want)
	}
	m := regexp.MustCompile(`old key (\w{8}) \(([0-9a-f]{24})\)`).FindStringSubmatch(s)
	require.Len(t, m, 3)
	assert.Contains(t, s, `"rotated from `+m[1]+` (`+m[2]+`): billing exporter (prod)"`)
	assert.Regexp(t, `undone:\s+delete key [0-9a-f]{24}`, s)
	// The secret is printed once, on its own line.
	sm := regexp.MustCompile(`new private key \(shown once, store it now\): (\S+)`).FindStringSubmatch(s)
	require.Len(t, sm, 2)
	assert.Equal(t, 1, strings.Count(s, sm[1]))
}

func TestRotateWritesSecretFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "secret")
	var out bytes.Buffer
	env := map[string]string{"ATLAS_NEW_SECRET_FILE": file}
	require.NoError(t, run(context.Background(), &out, func(k string) string { return env[k] }))
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	secret := strings.TrimSpace(string(b))
	require.NotEmpty(t, secret)
	assert.NotContains(t, out.String(), secret)
	assert.Contains(t, out.String(), "new private key written to "+file)
	fi, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestRotateNeedsAllCredentials(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ATLAS_PUBLIC_KEY": "abcdefgh", "ATLAS_PRIVATE_KEY": "x", "ATLAS_ORG_ID": "4888442a3354817a7320eb61"}
	err := run(context.Background(), &bytes.Buffer{}, func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ATLAS_API_KEY_ID")
}

// TestRotateWithCredentials runs the real-Atlas path against a fake reached
// through ATLAS_BASE_URL: the old key is kept unless ATLAS_DELETE_OLD=true.
func TestRotateWithCredentials(t *testing.T) {
	t.Parallel()
	for _, deleteOld := range []string{"", "true"} {
		srv := atlastest.NewServer()
		defer srv.Close()
		pub, priv := srv.AdminKey()
		old := srv.AddAPIKey(srv.OrgID(), "reporting", "ORG_READ_ONLY")
		require.NoError(t, srv.AddAccessListEntry(srv.OrgID(), old.ID, "203.0.113.0/24"))
		env := map[string]string{
			"ATLAS_PUBLIC_KEY": pub, "ATLAS_PRIVATE_KEY": priv, "ATLAS_ORG_ID": srv.OrgID(),
			"ATLAS_BASE_URL": srv.URL, "ATLAS_API_KEY_ID": old.ID, "ATLAS_DELETE_OLD": deleteOld,
		}
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, func(k string) string { return env[k] }))
		s := out.String()
		assert.Contains(t, s, "Using real Atlas")
		assert.Contains(t, s, "identical: true")
		assert.NotContains(t, s, "failing (500)", "no fault demo on real Atlas")
		keys := srv.Snapshot().Orgs[0].APIKeys
		if deleteOld == "true" {
			assert.Contains(t, s, "old key deleted: true")
			assert.Len(t, keys, 2) // admin + replacement
		} else {
			assert.Contains(t, s, "Keeping old key "+old.ID)
			assert.Len(t, keys, 3)
		}
	}
}
