// Package atlasenv decides where an example runs: on real Atlas when the
// ATLAS_* credentials are set, else on an in-process atlastest server.
package atlasenv

import (
	"errors"
	"strings"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// Env is the Atlas an example talks to.
type Env struct {
	// Options configure an atlaskeys.Client for it.
	Options []atlaskeys.Option
	// OrgID is the organization to work in; ProjectID a project in it
	// ("" on real Atlas when ATLAS_PROJECT_ID is not set).
	OrgID, ProjectID string
	// Fake is the in-process fake Atlas, nil on real Atlas.
	Fake *atlastest.Server
}

// Close stops the fake Atlas, if there is one.
func (e *Env) Close() {
	if e.Fake != nil {
		e.Fake.Close()
	}
}

// Connect reads ATLAS_PUBLIC_KEY, ATLAS_PRIVATE_KEY and ATLAS_ORG_ID (all
// or none; required names the example's own further variables, needed on
// real Atlas too), ATLAS_BASE_URL and ATLAS_PROJECT_ID. With none set it
// starts atlastest and signs in as its admin key.
func Connect(getenv func(string) string, userAgent string, required ...string) (*Env, error) {
	names := append([]string{"ATLAS_PUBLIC_KEY", "ATLAS_PRIVATE_KEY", "ATLAS_ORG_ID"}, required...)
	set := 0
	for _, n := range names[:3] {
		if getenv(n) != "" {
			set++
		}
	}
	if set == 0 {
		srv := atlastest.NewServer()
		pub, priv := srv.AdminKey()
		return &Env{
			Options:   []atlaskeys.Option{atlaskeys.WithDigestAuth(pub, priv), atlaskeys.WithBaseURL(srv.URL), atlaskeys.WithUserAgent(userAgent)},
			OrgID:     srv.OrgID(),
			ProjectID: srv.ProjectID(),
			Fake:      srv,
		}, nil
	}
	for _, n := range names {
		if getenv(n) == "" {
			return nil, errors.New("set all of " + strings.Join(names, ", ") + ", or none of the first three to use the built-in fake Atlas")
		}
	}
	opts := []atlaskeys.Option{
		atlaskeys.WithDigestAuth(getenv("ATLAS_PUBLIC_KEY"), getenv("ATLAS_PRIVATE_KEY")),
		atlaskeys.WithUserAgent(userAgent),
	}
	if base := getenv("ATLAS_BASE_URL"); base != "" {
		opts = append(opts, atlaskeys.WithBaseURL(base))
	}
	return &Env{Options: opts, OrgID: getenv("ATLAS_ORG_ID"), ProjectID: getenv("ATLAS_PROJECT_ID")}, nil
}
