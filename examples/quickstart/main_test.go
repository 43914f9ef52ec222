package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartOnFakeAtlas(t *testing.T) {
	var out bytes.Buffer
	noEnv := func(string) string { return "" }
	require.NoError(t, run(context.Background(), &out, noEnv))
	s := out.String()

	for _, want := range []string{
		"using the built-in fake Atlas",
		"Creating an organization API key",
		"entry 203.0.113.10",
		"entry 198.51.100.0/24",
		"read back 198.51.100.0/24",
		"Assigning the key to project",
		"got 404",
		"Deleted key",
	} {
		assert.Contains(t, s, want)
	}
	assert.Regexp(t, `roles in the project now: \[(GROUP_READ_ONLY GROUP_DATA_ACCESS_READ_ONLY|GROUP_DATA_ACCESS_READ_ONLY GROUP_READ_ONLY)\]`, s)
	// The secret appears exactly once, on the Reveal line; %+v shows it redacted.
	m := regexp.MustCompile(`private key \(shown once, via Reveal\): (\S+)`).FindStringSubmatch(s)
	require.Len(t, m, 2)
	assert.Equal(t, 1, strings.Count(s, m[1]), "the private key must be printed once only")
	assert.Contains(t, s, "[REDACTED]")
	// Two keys (the admin key and the new one), listed one per page.
	assert.Regexp(t, `(?m)^\s+2\. `, s)
}

func TestQuickstartNeedsAllCredentials(t *testing.T) {
	env := map[string]string{"ATLAS_PUBLIC_KEY": "abcdefgh"}
	err := run(context.Background(), &bytes.Buffer{}, func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ATLAS_ORG_ID")
}
