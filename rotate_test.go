package atlaskeys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// testRetries keeps injected 5xx retries fast.
var testRetries = atlaskeys.WithRetryPolicy(atlaskeys.RetryPolicy{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})

// newTestClient starts a fake Atlas and a client for its admin key.
func newTestClient(t *testing.T, opts ...atlastest.Option) (*atlastest.Server, *atlaskeys.Client) {
	t.Helper()
	srv := atlastest.NewServer(opts...)
	pub, priv := srv.AdminKey()
	c, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(pub, priv), atlaskeys.WithBaseURL(srv.URL), testRetries)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Close(context.Background())
		srv.Close()
	})
	return srv, c
}

// rotationFixture is an organization with a key worth rotating: two
// organization roles, IPv4 and IPv6 addresses and blocks on its access list
// (two batches of two), three projects, and a bystander key.
type rotationFixture struct {
	srv      *atlastest.Server
	c        *atlaskeys.Client
	org      string
	old      atlastest.Key
	projects []string // sorted: the order Rotate assigns them in
}

func newRotationFixture(t *testing.T, opts ...atlastest.Option) *rotationFixture {
	t.Helper()
	srv, c := newTestClient(t, opts...)
	f := &rotationFixture{srv: srv, c: c, org: srv.OrgID()}
	f.old = srv.AddAPIKey(f.org, "ci deployer (prod)", atlaskeys.RoleOrgMember, atlaskeys.RoleOrgReadOnly)
	for _, a := range []string{"203.0.113.10", "2001:db8::1", "198.51.100.0/24", "2001:db8:abcd::/48"} {
		require.NoError(t, srv.AddAccessListEntry(f.org, f.old.ID, a))
	}
	p1 := srv.AddProject(f.org, "Project 1")
	p2 := srv.AddProject(f.org, "Project 2")
	require.NoError(t, srv.AssignAPIKey(srv.ProjectID(), f.old.ID, atlaskeys.RoleGroupReadOnly, atlaskeys.RoleGroupDataAccessReadOnly))
	require.NoError(t, srv.AssignAPIKey(p1, f.old.ID, atlaskeys.RoleGroupClusterManager))
	require.NoError(t, srv.AssignAPIKey(p2, f.old.ID, atlaskeys.RoleGroupOwner))
	f.projects = []string{srv.ProjectID(), p1, p2}
	slices.Sort(f.projects)

	bystander := srv.AddAPIKey(f.org, "bystander", atlaskeys.RoleOrgMember)
	require.NoError(t, srv.AddAccessListEntry(f.org, bystander.ID, "192.0.2.0/24"))
	require.NoError(t, srv.AssignAPIKey(p1, bystander.ID, atlaskeys.RoleGroupReadOnly))
	return f
}

// keySnap returns the snapshot of one key, or nil.
func keySnap(snap atlastest.Snapshot, id string) *atlastest.APIKeySnapshot {
	for _, o := range snap.Orgs {
		for i := range o.APIKeys {
			if o.APIKeys[i].ID == id {
				return &o.APIKeys[i]
			}
		}
	}
	return nil
}

// replacements returns the snapshots of the keys whose description marks
// them as replacements of oldID.
func replacements(snap atlastest.Snapshot, oldID string) []atlastest.APIKeySnapshot {
	var out []atlastest.APIKeySnapshot
	for _, o := range snap.Orgs {
		for _, k := range o.APIKeys {
			if strings.HasPrefix(k.Desc, "rotated from ") && strings.Contains(k.Desc, "("+oldID+")") {
				out = append(out, k)
			}
		}
	}
	return out
}

// entryShapes lists a key's access list as "ip|cidr" pairs, to check that IP
// entries are copied as IP addresses and blocks as blocks.
func entryShapes(t *testing.T, c *atlaskeys.Client, org, keyID string) []string {
	t.Helper()
	var out []string
	for e, err := range c.AccessList.All(context.Background(), org, keyID, nil) {
		require.NoError(t, err)
		out = append(out, e.IPAddress+"|"+e.CIDRBlock)
	}
	slices.Sort(out)
	return out
}

// assertCopied checks that the new key has exactly the old key's roles
// (organization and project) and access list.
func assertCopied(t *testing.T, f *rotationFixture, newID string) {
	t.Helper()
	snap := f.srv.Snapshot()
	o, n := keySnap(snap, f.old.ID), keySnap(snap, newID)
	require.NotNil(t, o, "old key")
	require.NotNil(t, n, "new key")
	assert.Equal(t, o.Roles, n.Roles, "organization and project roles")
	assert.Equal(t, o.AccessList, n.AccessList, "access list")
	assert.Equal(t, entryShapes(t, f.c, f.org, f.old.ID), entryShapes(t, f.c, f.org, newID), "entry shapes (ipAddress vs cidrBlock)")
}

func TestRotateCopiesEverything(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	before := f.srv.Snapshot()

	var saved atlaskeys.Secret
	rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{
		AccessListBatchSize: 2,
		OnCreate: func(_ context.Context, k *atlaskeys.APIKey) error {
			saved = k.PrivateKey
			return nil
		},
	})
	require.NoError(t, err)
	require.NotNil(t, rot.New)
	assert.False(t, rot.Resumed)
	assert.False(t, rot.OldDeleted)
	assert.Equal(t, f.old.ID, rot.Old.ID)
	assert.NotEqual(t, f.old.ID, rot.New.ID)
	assert.False(t, rot.New.PrivateKey.IsZero(), "the new secret is returned")
	assert.Equal(t, saved.Reveal(), rot.New.PrivateKey.Reveal(), "OnCreate saw the same secret")
	assert.Equal(t, "rotated from "+f.old.PublicKey+" ("+f.old.ID+"): ci deployer (prod)", rot.New.Desc)
	assertCopied(t, f, rot.New.ID)

	// The result describes the new key as Atlas now has it.
	snap := f.srv.Snapshot()
	got, _, err := f.c.OrgAPIKeys.Get(context.Background(), f.org, rot.New.ID)
	require.NoError(t, err)
	assert.ElementsMatch(t, got.Roles, rot.New.Roles)
	assert.Equal(t, got.ProjectRoles(), rot.ProjectRoles)
	assert.Len(t, rot.AccessList, 4)
	assert.Contains(t, rot.AccessList, atlaskeys.AccessListRequest{IPAddress: "203.0.113.10"})
	assert.Contains(t, rot.AccessList, atlaskeys.AccessListRequest{CIDRBlock: "198.51.100.0/24"})

	// Only the new key was added; nothing else changed.
	require.Len(t, snap.Orgs[0].APIKeys, len(before.Orgs[0].APIKeys)+1)
	assert.Equal(t, before.Orgs[0].APIKeys, snap.Orgs[0].APIKeys[:len(before.Orgs[0].APIKeys)])

	// Steps: create, two access-list batches, three projects.
	var ops []string
	for _, s := range rot.Steps {
		ops = append(ops, s.Op)
	}
	assert.Equal(t, []string{atlaskeys.StepCreateKey, atlaskeys.StepAddAccessList, atlaskeys.StepAddAccessList,
		atlaskeys.StepAssignProject, atlaskeys.StepAssignProject, atlaskeys.StepAssignProject}, ops)

	// The new credentials work.
	nc, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(rot.New.PublicKey, rot.New.PrivateKey.Reveal()), atlaskeys.WithBaseURL(f.srv.URL))
	require.NoError(t, err)
	defer nc.Close(context.Background())
	_, _, err = nc.OrgAPIKeys.Get(context.Background(), f.org, rot.New.ID)
	require.NoError(t, err)

	// Printing the result never shows the secret.
	for _, s := range []string{fmt.Sprint(rot), fmt.Sprintf("%+v", *rot), fmt.Sprintf("%#v", *rot.New), fmt.Sprintf("%+v", *rot.New)} {
		assert.NotContains(t, s, rot.New.PrivateKey.Reveal())
	}
}

func TestRotateBatchesAccessList(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	_, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
	require.NoError(t, err)
	posts := 0
	for _, r := range f.srv.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/accessList") {
			posts++
		}
	}
	assert.Equal(t, 1, posts, "the default batch holds the whole access list")
}

func TestRotateDeleteOldAndRetireOld(t *testing.T) {
	t.Parallel()
	t.Run("DeleteOld", func(t *testing.T) {
		t.Parallel()
		f := newRotationFixture(t)
		rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{DeleteOld: true})
		require.NoError(t, err)
		assert.True(t, rot.OldDeleted)
		snap := f.srv.Snapshot()
		assert.Nil(t, keySnap(snap, f.old.ID))
		n := keySnap(snap, rot.New.ID)
		require.NotNil(t, n)
		assert.Len(t, n.AccessList, 4)
		assert.Equal(t, atlaskeys.StepDeleteOld, rot.Steps[len(rot.Steps)-1].Op)
	})
	t.Run("RetireOld", func(t *testing.T) {
		t.Parallel()
		f := newRotationFixture(t)
		rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
		require.NoError(t, err)
		require.NotNil(t, keySnap(f.srv.Snapshot(), f.old.ID), "the old key is kept by default")
		require.NoError(t, f.c.RetireOld(context.Background(), f.org, rot))
		assert.True(t, rot.OldDeleted)
		assert.Nil(t, keySnap(f.srv.Snapshot(), f.old.ID))
		require.NoError(t, f.c.RetireOld(context.Background(), f.org, rot), "an old key already gone is fine")
	})
	t.Run("RetireOld refuses without the replacement", func(t *testing.T) {
		t.Parallel()
		f := newRotationFixture(t)
		rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
		require.NoError(t, err)
		_, err = f.c.OrgAPIKeys.Delete(context.Background(), f.org, rot.New.ID)
		require.NoError(t, err)
		err = f.c.RetireOld(context.Background(), f.org, rot)
		require.ErrorIs(t, err, atlaskeys.ErrNotFound)
		assert.NotNil(t, keySnap(f.srv.Snapshot(), f.old.ID), "the old key must survive")
		assert.False(t, rot.OldDeleted)
	})
	t.Run("RetireOld nil", func(t *testing.T) {
		t.Parallel()
		_, c := newTestClient(t)
		require.ErrorIs(t, c.RetireOld(context.Background(), "4888442a3354817a7320eb61", nil), atlaskeys.ErrInvalidArgument)
	})
}

// loseAnswer makes the next successful request matching method and pattern
// act in Atlas but answer 502, as when a proxy loses the response.
func loseAnswer(method, pattern string, armed *atomic.Bool) atlastest.Option {
	return atlastest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, _ := path.Match(pattern, r.URL.Path); !ok || r.Method != method || !armed.Load() {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if rec.Code == http.StatusOK && armed.CompareAndSwap(true, false) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte(`{"error":502,"errorCode":"BAD_GATEWAY","detail":"The upstream answer was lost.","reason":"Bad Gateway"}`))
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	})
}

const (
	pathCreateKey  = "/api/atlas/v2/orgs/*/apiKeys"
	pathAccessList = "/api/atlas/v2/orgs/*/apiKeys/*/accessList"
	pathAssign     = "/api/atlas/v2/groups/*/apiKeys/*"
)

// TestRotateFailureLeavesOrgAsFound fails each step of a rotation in turn
// and checks that the organization's snapshot after the failed rotation
// equals the one before it.
func TestRotateFailureLeavesOrgAsFound(t *testing.T) {
	t.Parallel()
	type tc struct {
		name     string
		faults   func(f *rotationFixture) []atlastest.Fault
		opts     atlaskeys.RotateOptions
		onCreate func(ctx context.Context, cancel context.CancelFunc) error
		lose     bool // create acts in Atlas but its answer is lost
		failed   string
		is       error
	}
	hookErr := errors.New("secret store unavailable")
	fault := func(ff ...atlastest.Fault) func(*rotationFixture) []atlastest.Fault {
		return func(*rotationFixture) []atlastest.Fault { return ff }
	}
	cases := []tc{
		{name: "read old key (GET 500 x4)", faults: func(f *rotationFixture) []atlastest.Fault {
			return []atlastest.Fault{{Method: "GET", Path: "/api/atlas/v2/orgs/*/apiKeys/" + f.old.ID, Count: 4, Status: 500}}
		}, failed: atlaskeys.StepReadKey, is: atlaskeys.ErrServer},
		{name: "read access list (GET 400)", faults: fault(atlastest.Fault{Method: "GET", Path: pathAccessList, Status: 400}),
			failed: atlaskeys.StepReadAccessList, is: atlaskeys.ErrBadRequest},
		{name: "create key (POST 500)", faults: fault(atlastest.Fault{Method: "POST", Path: pathCreateKey, Status: 500}),
			failed: atlaskeys.StepCreateKey, is: atlaskeys.ErrServer},
		{name: "create key (POST 400)", faults: fault(atlastest.Fault{Method: "POST", Path: pathCreateKey, Status: 400}),
			failed: atlaskeys.StepCreateKey, is: atlaskeys.ErrBadRequest},
		{name: "create key (acted, answer lost: 502)", lose: true, failed: atlaskeys.StepCreateKey, is: atlaskeys.ErrServer},
		{name: "OnCreate hook fails", onCreate: func(context.Context, context.CancelFunc) error { return hookErr },
			failed: atlaskeys.StepOnCreate, is: hookErr},
		{name: "caller cancels after create", onCreate: func(_ context.Context, cancel context.CancelFunc) error { cancel(); return nil },
			failed: atlaskeys.StepAddAccessList, is: context.Canceled},
		{name: "access list write 1/2 (POST 500)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAccessList, Status: 500}),
			failed: atlaskeys.StepAddAccessList, is: atlaskeys.ErrServer},
		{name: "access list write 2/2 (POST 500)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAccessList, Skip: 1, Status: 500}),
			failed: atlaskeys.StepAddAccessList, is: atlaskeys.ErrServer},
		{name: "access list write 2/2 (POST 400)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAccessList, Skip: 1, Status: 400}),
			failed: atlaskeys.StepAddAccessList, is: atlaskeys.ErrBadRequest},
		{name: "assign project 1/3 (POST 500)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAssign, Status: 500}),
			failed: atlaskeys.StepAssignProject, is: atlaskeys.ErrServer},
		{name: "assign project 2/3 (POST 500)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAssign, Skip: 1, Status: 500}),
			failed: atlaskeys.StepAssignProject, is: atlaskeys.ErrServer},
		{name: "assign project 3/3 (POST 500)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAssign, Skip: 2, Status: 500}),
			failed: atlaskeys.StepAssignProject, is: atlaskeys.ErrServer},
		{name: "assign project 3/3 (POST 400)", faults: fault(atlastest.Fault{Method: "POST", Path: pathAssign, Skip: 2, Status: 400}),
			failed: atlaskeys.StepAssignProject, is: atlaskeys.ErrBadRequest},
		{name: "delete old key (DELETE 500 x4)", opts: atlaskeys.RotateOptions{DeleteOld: true}, faults: func(f *rotationFixture) []atlastest.Fault {
			return []atlastest.Fault{{Method: "DELETE", Path: "/api/atlas/v2/orgs/*/apiKeys/" + f.old.ID, Count: 4, Status: 500}}
		}, failed: atlaskeys.StepDeleteOld, is: atlaskeys.ErrServer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var armed atomic.Bool
			var opts []atlastest.Option
			if tc.lose {
				armed.Store(true)
				opts = append(opts, loseAnswer(http.MethodPost, pathCreateKey, &armed))
			}
			f := newRotationFixture(t, opts...)
			if tc.faults != nil {
				for _, fl := range tc.faults(f) {
					f.srv.InjectFault(fl)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var secret string
			ro := tc.opts
			ro.AccessListBatchSize = 2
			ro.OnCreate = func(ctx context.Context, k *atlaskeys.APIKey) error {
				secret = k.PrivateKey.Reveal()
				if tc.onCreate != nil {
					return tc.onCreate(ctx, cancel)
				}
				return nil
			}
			before := f.srv.Snapshot()

			rot, err := f.c.Rotate(ctx, f.org, f.old.ID, ro)

			after := f.srv.Snapshot()
			require.Error(t, err)
			assert.Nil(t, rot)
			var rerr *atlaskeys.RotationError
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, tc.failed, rerr.Failed.Op, "failed step")
			assert.ErrorIs(t, err, tc.is, "the cause is wrapped")
			assert.NoError(t, rerr.UndoErr, "undo")
			equal := assert.Equal(t, before, after, "the organization must be as Rotate found it")
			if tc.lose {
				assert.False(t, armed.Load(), "the create acted")
				assert.Contains(t, err.Error(), "created despite the error")
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if secret != "" {
					assert.NotContains(t, s, secret, "the new private key must not leak")
				}
				_, adminPriv := f.srv.AdminKey()
				assert.NotContains(t, s, adminPriv)
			}
			t.Logf("%-38s | failed: %-26s | done %d: %-70s | undone %d: %-60s | snapshots equal: %v",
				tc.name, rerr.Failed.Op, len(rerr.Done), opsOf(rerr.Done), len(rerr.Undone), opsOf(rerr.Undone), equal)
		})
	}
}

func opsOf(steps []atlaskeys.RotationStep) string {
	var ops []string
	for _, s := range steps {
		op := s.Op
		if s.Op == atlaskeys.StepCreateKey || s.Op == atlaskeys.StepDeleteKey {
			op += " " + s.Target[:6] + "…"
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return "-"
	}
	return strings.Join(ops, ", ")
}

func TestRotateErrorMessage(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	f.srv.InjectFault(atlastest.Fault{Method: "POST", Path: pathAssign, Skip: 1, Status: 500})
	var secret string
	_, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{
		OnCreate: func(_ context.Context, k *atlaskeys.APIKey) error { secret = k.PrivateKey.Reveal(); return nil },
	})
	require.Error(t, err)
	var rerr *atlaskeys.RotationError
	require.ErrorAs(t, err, &rerr)
	var apiErr *atlaskeys.APIError
	require.ErrorAs(t, err, &apiErr, "errors.As reaches the Atlas error")
	assert.Equal(t, 500, apiErr.HTTPStatus)
	msg := err.Error()
	assert.Contains(t, msg, "rotating API key "+f.old.ID)
	assert.Contains(t, msg, "assign project "+f.projects[1]+" failed")
	assert.Contains(t, msg, "done: create key "+rerr.NewKeyID+", add access list entries")
	assert.Contains(t, msg, "assign project "+f.projects[0])
	assert.Contains(t, msg, "undone: delete key "+rerr.NewKeyID)
	assert.NotContains(t, msg, "UNDO INCOMPLETE")
	require.NotEmpty(t, secret)
	assert.NotContains(t, msg, secret)
}

// TestRotateRerunAfterInterruption interrupts a rotation whose undo fails
// too (the replacement is left half-done, as after a crash), then reruns it:
// the rerun converges the same replacement instead of creating a second.
func TestRotateRerunAfterInterruption(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	before := f.srv.Snapshot()
	f.srv.InjectFault(atlastest.Fault{Method: "POST", Path: pathAssign, Skip: 1, Status: 500})
	f.srv.InjectFault(atlastest.Fault{Method: "DELETE", Path: "/api/atlas/v2/orgs/*/apiKeys/*", Count: 100, Status: 503})
	var saved atlaskeys.Secret
	opts := atlaskeys.RotateOptions{
		AccessListBatchSize: 2,
		UndoTimeout:         5 * time.Second,
		OnCreate: func(_ context.Context, k *atlaskeys.APIKey) error {
			saved = k.PrivateKey
			return nil
		},
	}
	_, err := f.c.Rotate(context.Background(), f.org, f.old.ID, opts)
	require.Error(t, err)
	var rerr *atlaskeys.RotationError
	require.ErrorAs(t, err, &rerr)
	require.Error(t, rerr.UndoErr, "the undo was made to fail")
	assert.Contains(t, err.Error(), "UNDO INCOMPLETE")
	assert.NotContains(t, err.Error(), saved.Reveal())
	half := replacements(f.srv.Snapshot(), f.old.ID)
	require.Len(t, half, 1, "a half-done replacement is left behind")
	assert.Equal(t, rerr.NewKeyID, half[0].ID)
	assert.NotEqual(t, keySnap(before, f.old.ID).Roles, half[0].Roles, "it lacks projects")

	f.srv.ClearFaults()
	opts.OnCreate = func(context.Context, *atlaskeys.APIKey) error {
		t.Error("the rerun must not create a key")
		return nil
	}
	rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, opts)
	require.NoError(t, err)
	assert.True(t, rot.Resumed)
	assert.Equal(t, rerr.NewKeyID, rot.New.ID)
	assert.True(t, rot.New.PrivateKey.IsZero(), "a resumed rotation has no secret")
	var ops []string
	for _, s := range rot.Steps {
		ops = append(ops, s.String())
	}
	assert.Equal(t, []string{"assign project " + f.projects[1], "assign project " + f.projects[2]}, ops, "only what was missing")

	snap := f.srv.Snapshot()
	require.Len(t, replacements(snap, f.old.ID), 1, "exactly one replacement")
	assert.Len(t, snap.Orgs[0].APIKeys, len(before.Orgs[0].APIKeys)+1)
	assertCopied(t, f, rot.New.ID)

	// The secret OnCreate saved in the first run is the replacement's.
	nc, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(rot.New.PublicKey, saved.Reveal()), atlaskeys.WithBaseURL(f.srv.URL))
	require.NoError(t, err)
	defer nc.Close(context.Background())
	_, _, err = nc.OrgAPIKeys.Get(context.Background(), f.org, rot.New.ID)
	require.NoError(t, err)
}

// TestRotateRerunAfterCancel: the caller cancels mid-rotation and the undo
// (which ignores that cancellation) removes the new key; a rerun starts
// afresh.
func TestRotateRerunAfterCancel(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	before := f.srv.Snapshot()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := f.c.Rotate(ctx, f.org, f.old.ID, atlaskeys.RotateOptions{
		OnCreate: func(context.Context, *atlaskeys.APIKey) error { cancel(); return nil },
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, f.srv.Snapshot())

	rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
	require.NoError(t, err)
	assert.False(t, rot.Resumed)
	require.Len(t, replacements(f.srv.Snapshot(), f.old.ID), 1)
	assertCopied(t, f, rot.New.ID)
}

func TestRotateTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	first, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
	require.NoError(t, err)
	snap := f.srv.Snapshot()
	f.srv.ResetRequests()

	second, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
	require.NoError(t, err)
	assert.True(t, second.Resumed)
	assert.Equal(t, first.New.ID, second.New.ID)
	assert.Empty(t, second.Steps, "nothing to do")
	assert.True(t, second.New.PrivateKey.IsZero())
	assert.Equal(t, snap, f.srv.Snapshot())
	for _, r := range f.srv.Requests() {
		assert.Equal(t, http.MethodGet, r.Method, "a converged rerun only reads: %s %s", r.Method, r.Path)
	}
}

// TestRotateConvergesPartialReplacement: an earlier replacement with the
// wrong organization roles, one entry, one project with wrong roles and
// one missing is brought level with the old key.
func TestRotateConvergesPartialReplacement(t *testing.T) {
	t.Parallel()
	newPartial := func(t *testing.T) (*rotationFixture, atlastest.Key) {
		f := newRotationFixture(t)
		desc := "rotated from " + f.old.PublicKey + " (" + f.old.ID + "): ci deployer (prod)"
		k := f.srv.AddAPIKey(f.org, desc, atlaskeys.RoleOrgMember)
		require.NoError(t, f.srv.AddAccessListEntry(f.org, k.ID, "198.51.100.0/24"))
		require.NoError(t, f.srv.AssignAPIKey(f.projects[0], k.ID, atlaskeys.RoleGroupBackupManager)) // a role the old key holds in no project
		return f, k
	}
	t.Run("converges", func(t *testing.T) {
		t.Parallel()
		f, k := newPartial(t)
		rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
		require.NoError(t, err)
		assert.True(t, rot.Resumed)
		assert.Equal(t, k.ID, rot.New.ID)
		require.Len(t, replacements(f.srv.Snapshot(), f.old.ID), 1)
		assertCopied(t, f, k.ID)
		var ops []string
		for _, s := range rot.Steps {
			ops = append(ops, s.Op)
		}
		assert.ElementsMatch(t, []string{atlaskeys.StepUpdateOrgRoles, atlaskeys.StepAddAccessList,
			atlaskeys.StepUpdateProjectRoles, atlaskeys.StepAssignProject, atlaskeys.StepAssignProject}, ops)
	})
	t.Run("failure undoes only this run", func(t *testing.T) {
		t.Parallel()
		f, _ := newPartial(t)
		before := f.srv.Snapshot()
		f.srv.InjectFault(atlastest.Fault{Method: "POST", Path: pathAssign, Skip: 1, Status: 500})
		_, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
		var rerr *atlaskeys.RotationError
		require.ErrorAs(t, err, &rerr)
		require.NoError(t, rerr.UndoErr)
		assert.Equal(t, before, f.srv.Snapshot(), "the earlier replacement is back as it was")
		t.Logf("converge failure: done %s; undone %s", opsOf(rerr.Done), opsOf(rerr.Undone))
	})
}

func TestRotateEarlierReplacements(t *testing.T) {
	t.Parallel()
	t.Run("several are an error", func(t *testing.T) {
		t.Parallel()
		f := newRotationFixture(t)
		marker := "rotated from " + f.old.PublicKey + " (" + f.old.ID + ")"
		a := f.srv.AddAPIKey(f.org, marker)
		b := f.srv.AddAPIKey(f.org, marker+": again")
		before := f.srv.Snapshot()
		_, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), a.ID)
		assert.Contains(t, err.Error(), b.ID)
		assert.Contains(t, err.Error(), "DiscardEarlier")
		assert.Equal(t, before, f.srv.Snapshot())
	})
	t.Run("DiscardEarlier starts afresh", func(t *testing.T) {
		t.Parallel()
		f := newRotationFixture(t)
		marker := "rotated from " + f.old.PublicKey + " (" + f.old.ID + ")"
		a := f.srv.AddAPIKey(f.org, marker)
		b := f.srv.AddAPIKey(f.org, marker)
		rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{DiscardEarlier: true})
		require.NoError(t, err)
		assert.False(t, rot.Resumed)
		assert.False(t, rot.New.PrivateKey.IsZero())
		snap := f.srv.Snapshot()
		assert.Nil(t, keySnap(snap, a.ID))
		assert.Nil(t, keySnap(snap, b.ID))
		require.Len(t, replacements(snap, f.old.ID), 1)
		assertCopied(t, f, rot.New.ID)
	})
	t.Run("a replacement of another key is ignored", func(t *testing.T) {
		t.Parallel()
		f := newRotationFixture(t)
		other := f.srv.AddAPIKey(f.org, "rotated from zzzzzzzz (0123456789abcdef01234567)")
		rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{})
		require.NoError(t, err)
		assert.False(t, rot.Resumed)
		assert.NotNil(t, keySnap(f.srv.Snapshot(), other.ID))
	})
}

func TestRotateDescription(t *testing.T) {
	t.Parallel()
	srv, c := newTestClient(t)
	org := srv.OrgID()
	long := strings.Repeat("é", 249) // 249 runes, 498 bytes
	old := srv.AddAPIKey(org, long)
	rot, err := c.Rotate(context.Background(), org, old.ID, atlaskeys.RotateOptions{})
	require.NoError(t, err)
	marker := "rotated from " + old.PublicKey + " (" + old.ID + ")"
	assert.True(t, strings.HasPrefix(rot.New.Desc, marker+": éé"), rot.New.Desc)
	assert.Equal(t, 250, utf8.RuneCountInString(rot.New.Desc))
	assert.True(t, utf8.ValidString(rot.New.Desc))
	assert.True(t, strings.HasSuffix(rot.New.Desc, "…"))

	// Rotating the replacement replaces the marker rather than stacking it.
	again, err := c.Rotate(context.Background(), org, rot.New.ID, atlaskeys.RotateOptions{})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(again.New.Desc, "rotated from "+rot.New.PublicKey+" ("+rot.New.ID+"): éé"), again.New.Desc)
	assert.Equal(t, 1, strings.Count(again.New.Desc, "rotated from"))

	// An old key without access list or project gets a bare copy.
	assert.Empty(t, rot.AccessList)
	assert.Empty(t, rot.ProjectRoles)
}

func TestRotateInvalidArguments(t *testing.T) {
	t.Parallel()
	srv, c := newTestClient(t)
	for _, tc := range []struct {
		org, key string
		opts     atlaskeys.RotateOptions
	}{
		{"bad", srv.AdminKeyID(), atlaskeys.RotateOptions{}},
		{srv.OrgID(), "abcdefgh", atlaskeys.RotateOptions{}},
		{srv.OrgID(), srv.AdminKeyID(), atlaskeys.RotateOptions{AccessListBatchSize: -1}},
		{srv.OrgID(), srv.AdminKeyID(), atlaskeys.RotateOptions{UndoTimeout: -time.Second}},
	} {
		_, err := c.Rotate(context.Background(), tc.org, tc.key, tc.opts)
		assert.ErrorIs(t, err, atlaskeys.ErrInvalidArgument)
	}
	assert.Empty(t, srv.Requests(), "nothing is sent")

	_, err := c.Rotate(context.Background(), srv.OrgID(), "0123456789abcdef01234567", atlaskeys.RotateOptions{})
	require.ErrorIs(t, err, atlaskeys.ErrNotFound)
	var rerr *atlaskeys.RotationError
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, atlaskeys.StepReadKey, rerr.Failed.Op)
	assert.Empty(t, rerr.Done)
}

// TestRotateDeleteOldUnknown: the old key's DELETE fails and so does the
// check whether it still exists. Removing the replacement could then leave
// the organization with neither key, so Rotate keeps it and returns the
// Rotation (with its secret) together with the error.
func TestRotateDeleteOldUnknown(t *testing.T) {
	t.Parallel()
	f := newRotationFixture(t)
	oldPath := "/api/atlas/v2/orgs/*/apiKeys/" + f.old.ID
	f.srv.InjectFault(atlastest.Fault{Method: "DELETE", Path: oldPath, Count: 4, Status: 500})
	rot, err := f.c.Rotate(context.Background(), f.org, f.old.ID, atlaskeys.RotateOptions{
		DeleteOld: true,
		OnCreate: func(context.Context, *atlaskeys.APIKey) error {
			// The old key has been read by now: fail every later read of it.
			f.srv.InjectFault(atlastest.Fault{Method: "GET", Path: oldPath, Count: 4, Status: 500})
			return nil
		},
	})
	var rerr *atlaskeys.RotationError
	require.ErrorAs(t, err, &rerr)
	require.NotNil(t, rot, "the completed rotation is returned with the error: %v", err)
	assert.False(t, rot.OldDeleted)
	assert.False(t, rot.New.PrivateKey.IsZero())
	assert.Equal(t, atlaskeys.StepDeleteOld, rerr.Failed.Op)
	assert.Error(t, rerr.UndoErr)
	assert.Contains(t, err.Error(), "RetireOld")
	assert.NotContains(t, err.Error(), rot.New.PrivateKey.Reveal())
	assertCopied(t, f, rot.New.ID)

	require.NoError(t, f.c.RetireOld(context.Background(), f.org, rot))
	assert.Nil(t, keySnap(f.srv.Snapshot(), f.old.ID))
}
