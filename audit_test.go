package atlaskeys_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// auditFixture seeds an organization with keys that each plant known
// findings, plus clean keys, and returns the planted set.
func auditFixture(t *testing.T, srv *atlastest.Server, clean int) map[string][]atlaskeys.FindingKind {
	t.Helper()
	org := srv.OrgID()
	p1 := srv.AddProject(org, "Project 1")
	want := map[string][]atlaskeys.FindingKind{
		// The seeded admin key: ORG_OWNER, no access list.
		srv.AdminKeyID(): {atlaskeys.FindingNoAccessList, atlaskeys.FindingOrgOwner},
	}
	add := func(desc string, roles []string, access []string, projects map[string][]string, kinds ...atlaskeys.FindingKind) {
		k := srv.AddAPIKey(org, desc, roles...)
		for _, a := range access {
			require.NoError(t, srv.AddAccessListEntry(org, k.ID, a))
		}
		for g, r := range projects {
			require.NoError(t, srv.AssignAPIKey(g, k.ID, r...))
		}
		want[k.ID] = kinds
	}
	ro := map[string][]string{srv.ProjectID(): {atlaskeys.RoleGroupReadOnly}}
	add("clean deployer", []string{atlaskeys.RoleOrgMember}, []string{"203.0.113.10", "198.51.100.0/24"}, ro)
	add("open v4", []string{atlaskeys.RoleOrgMember}, []string{"0.0.0.0/0"}, ro, atlaskeys.FindingOpenAccessList)
	add("open v6 reader", []string{atlaskeys.RoleOrgReadOnly}, []string{"10.0.0.0/8", "::/0"}, nil, atlaskeys.FindingOpenAccessList)
	add("owner with list", []string{atlaskeys.RoleOrgOwner}, []string{"192.0.2.1"}, nil, atlaskeys.FindingOrgOwner)
	add("idle", []string{atlaskeys.RoleOrgMember}, []string{"192.0.2.0/24"}, nil, atlaskeys.FindingUnused)
	add("idle, no list", []string{atlaskeys.RoleOrgMember}, nil, nil, atlaskeys.FindingNoAccessList, atlaskeys.FindingUnused)
	add("billing", []string{atlaskeys.RoleOrgMember, atlaskeys.RoleOrgBillingReadOnly}, []string{"2001:db8::/32"}, nil)
	add("project only", []string{atlaskeys.RoleOrgMember}, []string{"2001:db8::1"}, map[string][]string{p1: {atlaskeys.RoleGroupOwner}})
	add("everything wrong", []string{atlaskeys.RoleOrgOwner}, []string{"0.0.0.0/0", "::/0"}, nil,
		atlaskeys.FindingOpenAccessList, atlaskeys.FindingOrgOwner)
	for i := range clean {
		add(fmt.Sprintf("clean %03d", i), []string{atlaskeys.RoleOrgMember}, []string{fmt.Sprintf("10.1.%d.0/24", i)}, ro)
	}
	return want
}

func TestAuditFindsPlantedFindings(t *testing.T) {
	t.Parallel()
	srv, c := newTestClient(t)
	want := auditFixture(t, srv, 0)

	rep, err := c.Audit(context.Background(), srv.OrgID(), nil)
	require.NoError(t, err)

	got := map[string][]atlaskeys.FindingKind{}
	for _, f := range rep.Findings {
		got[f.KeyID] = append(got[f.KeyID], f.Kind)
		assert.NotEmpty(t, f.PublicKey)
		assert.NotEmpty(t, f.Detail)
	}
	for id, kinds := range want {
		if len(kinds) == 0 {
			delete(want, id)
		}
	}
	assert.Equal(t, want, got, "exactly the planted findings")

	// Every key is reported with its roles and access list.
	snap := srv.Snapshot()
	require.Len(t, rep.Keys, len(snap.Orgs[0].APIKeys))
	for _, k := range rep.Keys {
		s := keySnap(snap, k.ID)
		require.NotNil(t, s)
		assert.Equal(t, s.Desc, k.Desc)
		var addrs []string
		for _, e := range k.AccessList {
			addrs = append(addrs, e.CIDRBlock)
		}
		if addrs == nil {
			addrs = []string{}
		}
		assert.ElementsMatch(t, s.AccessList, addrs, k.Desc)
		var orgRoles []string
		projects := map[string][]string{}
		for _, r := range s.Roles {
			if r.GroupID == "" {
				orgRoles = append(orgRoles, r.RoleName)
			} else {
				projects[r.GroupID] = append(projects[r.GroupID], r.RoleName)
			}
		}
		assert.ElementsMatch(t, orgRoles, k.OrgRoles, k.Desc)
		assert.Equal(t, len(projects), len(k.ProjectRoles), k.Desc)
		for g, r := range projects {
			assert.ElementsMatch(t, r, k.ProjectRoles[g], k.Desc)
		}
	}

	// Deterministic order: keys by description then id; findings follow.
	for i := 1; i < len(rep.Keys); i++ {
		a, b := rep.Keys[i-1], rep.Keys[i]
		assert.True(t, a.Desc < b.Desc || a.Desc == b.Desc && a.ID < b.ID, "%q before %q", a.Desc, b.Desc)
	}
	pos := map[string]int{}
	for i, k := range rep.Keys {
		pos[k.ID] = i
	}
	for i := 1; i < len(rep.Findings); i++ {
		assert.LessOrEqual(t, pos[rep.Findings[i-1].KeyID], pos[rep.Findings[i].KeyID])
	}
	again, err := c.Audit(context.Background(), srv.OrgID(), &atlaskeys.AuditOptions{Concurrency: 1})
	require.NoError(t, err)
	assert.Equal(t, rep, again, "the same report whatever the concurrency")

	for _, f := range rep.Findings {
		t.Log(f)
	}
}

func TestAuditOpenDetail(t *testing.T) {
	t.Parallel()
	srv, c := newTestClient(t)
	auditFixture(t, srv, 0)
	rep, err := c.Audit(context.Background(), srv.OrgID(), nil)
	require.NoError(t, err)
	for _, k := range rep.Keys {
		if k.Desc != "everything wrong" {
			continue
		}
		f := rep.FindingsFor(k.ID)
		require.Len(t, f, 2)
		assert.Equal(t, atlaskeys.FindingOpenAccessList, f[0].Kind)
		assert.Contains(t, f[0].Detail, "0.0.0.0/0")
		assert.Contains(t, f[0].Detail, "::/0")
		assert.True(t, strings.HasPrefix(f[0].String(), "OPEN_ACCESS_LIST "+k.PublicKey+" ("+k.ID+")"), f[0].String())
		return
	}
	t.Fatal("key not found")
}

// TestAuditConcurrencyBound counts access-list reads in flight: never more
// than the bound, and more than one when the bound allows it.
func TestAuditConcurrencyBound(t *testing.T) {
	t.Parallel()
	for _, bound := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(bound), func(t *testing.T) {
			t.Parallel()
			var inFlight, peak atomic.Int64
			var mu sync.Mutex
			count := atlastest.WithMiddleware(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/accessList") {
						n := inFlight.Add(1)
						mu.Lock()
						peak.Store(max(peak.Load(), n))
						mu.Unlock()
						time.Sleep(5 * time.Millisecond)
						defer inFlight.Add(-1)
					}
					next.ServeHTTP(w, r)
				})
			})
			srv, c := newTestClient(t, count)
			auditFixture(t, srv, 20)
			rep, err := c.Audit(context.Background(), srv.OrgID(), &atlaskeys.AuditOptions{Concurrency: bound})
			require.NoError(t, err)
			assert.Len(t, rep.Keys, 30)
			assert.LessOrEqual(t, peak.Load(), int64(bound))
			if bound > 1 {
				assert.Greater(t, peak.Load(), int64(1), "reads overlap")
			}
			t.Logf("concurrency %d: peak %d access-list reads in flight", bound, peak.Load())
		})
	}
}

func TestAuditErrors(t *testing.T) {
	t.Parallel()
	srv, c := newTestClient(t)
	auditFixture(t, srv, 10)
	srv.InjectFault(atlastest.Fault{Method: "GET", Path: pathAccessList, Skip: 4, Status: 400})
	_, err := c.Audit(context.Background(), srv.OrgID(), &atlaskeys.AuditOptions{Concurrency: 4})
	require.ErrorIs(t, err, atlaskeys.ErrBadRequest)
	assert.Contains(t, err.Error(), "access list of key")

	srv.InjectFault(atlastest.Fault{Method: "GET", Path: pathCreateKey, Count: 4, Status: 503})
	_, err = c.Audit(context.Background(), srv.OrgID(), nil)
	require.ErrorIs(t, err, atlaskeys.ErrServer)
	assert.Contains(t, err.Error(), "listing keys")

	_, err = c.Audit(context.Background(), "nope", nil)
	require.ErrorIs(t, err, atlaskeys.ErrInvalidArgument)
	_, err = c.Audit(context.Background(), srv.OrgID(), &atlaskeys.AuditOptions{Concurrency: -1})
	require.ErrorIs(t, err, atlaskeys.ErrInvalidArgument)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Audit(ctx, srv.OrgID(), nil)
	require.ErrorIs(t, err, context.Canceled)
}
