package atlasenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConnectFakeWhenNothingSet(t *testing.T) {
	e, err := Connect(env(nil), "test")
	require.NoError(t, err)
	defer e.Close()
	require.NotNil(t, e.Fake)
	assert.Equal(t, e.Fake.OrgID(), e.OrgID)
	assert.Equal(t, e.Fake.ProjectID(), e.ProjectID)
	assert.Len(t, e.Options, 3)
}

func TestConnectRealNeedsEverything(t *testing.T) {
	_, err := Connect(env(map[string]string{"ATLAS_PUBLIC_KEY": "abcdefgh"}), "test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ATLAS_ORG_ID")

	full := map[string]string{"ATLAS_PUBLIC_KEY": "abcdefgh", "ATLAS_PRIVATE_KEY": "p", "ATLAS_ORG_ID": "0123456789abcdef01234567"}
	_, err = Connect(env(full), "test", "ATLAS_API_KEY_ID")
	require.Error(t, err, "an example's own variable is required on real Atlas")
	assert.Contains(t, err.Error(), "ATLAS_API_KEY_ID")

	full["ATLAS_BASE_URL"] = "https://example.test"
	e, err := Connect(env(full), "test")
	require.NoError(t, err)
	assert.Nil(t, e.Fake)
	assert.Equal(t, "0123456789abcdef01234567", e.OrgID)
	assert.Len(t, e.Options, 3)
	e.Close() // no fake: a no-op
}
