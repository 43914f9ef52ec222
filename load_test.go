package atlaskeys_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// TestLoadMixedOperations has 64 goroutines share one Client and make 200
// mixed calls each against atlastest, then checks that the fake's final
// state is exactly what those calls should have produced: nothing lost,
// nothing duplicated.
func TestLoadMixedOperations(t *testing.T) {
	const workers, opsPerWorker = 64, 200
	srv, c := fakeAtlas(t, nil)
	ctx := context.Background()
	org, project := srv.OrgID(), srv.ProjectID()

	type want struct {
		desc   string
		access map[string]bool
		roles  []string // project roles; nil when unassigned
	}
	keys := make([]string, workers)
	wants := make([]want, workers)
	var ops, calls, failures atomic.Int64
	var firstErr sync.Once
	var errMsg string

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			fail := func(op string, err error) {
				failures.Add(1)
				firstErr.Do(func() { errMsg = fmt.Sprintf("worker %d %s: %v", w, op, err) })
			}
			key, _, err := c.OrgAPIKeys.Create(ctx, org, &atlaskeys.CreateAPIKeyRequest{Desc: fmt.Sprintf("load %d", w), Roles: []string{atlaskeys.RoleOrgMember}})
			ops.Add(1)
			calls.Add(1)
			if err != nil {
				fail("create", err)
				return
			}
			keys[w] = key.ID
			st := want{desc: key.Desc, access: map[string]bool{}}
			var last string
			for j := 1; j < opsPerWorker; j++ {
				var err error
				op := ""
				sent := true // whether this operation makes an HTTP call
				switch j % 6 {
				case 0:
					op = "add entry"
					last = fmt.Sprintf("10.%d.%d.0/24", w, j/6)
					_, _, err = c.AccessList.Create(ctx, org, key.ID, []atlaskeys.AccessListRequest{{CIDRBlock: last}})
					if err == nil {
						st.access[last] = true
					}
				case 1:
					op = "get key"
					_, _, err = c.OrgAPIKeys.Get(ctx, org, key.ID)
				case 2:
					op = "rename"
					d := fmt.Sprintf("load %d op %d", w, j)
					_, _, err = c.OrgAPIKeys.Update(ctx, org, key.ID, &atlaskeys.UpdateAPIKeyRequest{Desc: d})
					if err == nil {
						st.desc = d
					}
				case 3:
					op = "get entry"
					sent = last != ""
					if sent {
						_, _, err = c.AccessList.Get(ctx, org, key.ID, last)
					}
				case 4:
					if (j/6)%2 == 0 {
						op = "delete entry"
						sent = last != ""
						if sent {
							_, err = c.AccessList.Delete(ctx, org, key.ID, last)
							if err == nil {
								delete(st.access, last)
							}
						}
					} else {
						op = "assign"
						roles := []string{atlaskeys.RoleGroupReadOnly}
						if j%4 == 0 {
							roles = []string{atlaskeys.RoleGroupDataAccessReadOnly}
						}
						_, err = c.ProjectAPIKeys.Assign(ctx, project, key.ID, roles)
						if err == nil {
							st.roles = roles
						}
					}
				case 5:
					op = "list"
					_, _, err = c.AccessList.List(ctx, org, key.ID, &atlaskeys.ListOptions{ItemsPerPage: 5})
				}
				ops.Add(1)
				if sent {
					calls.Add(1)
				}
				if err != nil {
					fail(op, err)
				}
			}
			wants[w] = st
		}(w)
	}
	wg.Wait()
	require.Zero(t, failures.Load(), "first failure: %s", errMsg)
	t.Logf("load: %d workers x %d calls = %d operations on one Client, %d errors, %d HTTP requests reached atlastest (%d challenges)",
		workers, opsPerWorker, ops.Load(), failures.Load(), srv.Stats().Requests, srv.Stats().Challenges)
	assert.Equal(t, int64(workers*opsPerWorker), ops.Load())
	st := srv.Stats()
	assert.Equal(t, 1, st.Challenges, "64 goroutines starting cold shared one digest challenge")
	assert.Equal(t, int(calls.Load())+st.Challenges, st.Requests, "one HTTP request per call: none lost, none repeated")

	// The fake's final state, key by key.
	snap := srv.Snapshot()
	byID := map[string]atlastest.APIKeySnapshot{}
	for _, k := range snap.Orgs[0].APIKeys {
		byID[k.ID] = k
	}
	assert.Len(t, byID, workers+1, "the admin key and one key per worker: nothing duplicated")
	for w, id := range keys {
		got, ok := byID[id]
		require.True(t, ok, "worker %d's key exists", w)
		assert.Equal(t, wants[w].desc, got.Desc, "worker %d desc", w)
		var access []string
		for a := range wants[w].access {
			access = append(access, a)
		}
		sort.Strings(access)
		if access == nil {
			access = []string{}
		}
		assert.Equal(t, access, got.AccessList, "worker %d access list", w)
		var roles []string
		for _, r := range got.Roles {
			if r.GroupID == project {
				roles = append(roles, r.RoleName)
			}
		}
		assert.Equal(t, wants[w].roles, roles, "worker %d project roles", w)
	}
}
