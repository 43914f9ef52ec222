// Command rotate replaces an organization API key with a new one that has
// the same organization roles, project roles and IP access list, shows that
// a rerun converges on the same replacement instead of creating another, and
// retires the old key.
//
// Without credentials it runs on the in-memory fake Atlas from package
// atlastest, seeded with a key worth rotating, and also shows a rotation
// that fails half-way being undone:
//
//	go run ./examples/rotate
//
// With ATLAS_PUBLIC_KEY, ATLAS_PRIVATE_KEY and ATLAS_ORG_ID set (an
// Organization Owner key) it rotates the key ATLAS_API_KEY_ID on real Atlas.
// The old key is kept unless ATLAS_DELETE_OLD=true: deploy the new secret
// first. The new secret is written to the file ATLAS_NEW_SECRET_FILE (mode
// 0600) when that is set, else printed once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
	"github.com/seed243cb23e/atlaskeys/examples/internal/atlasenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "rotate:", err)
		os.Exit(1)
	}
}

// target is where the example runs, and the key it rotates.
type target struct {
	*atlasenv.Env
	keyID     string
	deleteOld bool
}

func connect(out io.Writer, getenv func(string) string) (*target, error) {
	env, err := atlasenv.Connect(getenv, "atlaskeys-rotate", "ATLAS_API_KEY_ID")
	if err != nil {
		return nil, err
	}
	if env.Fake == nil {
		fmt.Fprintf(out, "Using real Atlas, organization %s.\n", env.OrgID)
		return &target{Env: env, keyID: getenv("ATLAS_API_KEY_ID"), deleteOld: getenv("ATLAS_DELETE_OLD") == "true"}, nil
	}

	srv, org := env.Fake, env.OrgID
	old := srv.AddAPIKey(org, "billing exporter (prod)", atlaskeys.RoleOrgMember, atlaskeys.RoleOrgReadOnly)
	reporting := srv.AddProject(org, "Reporting")
	for _, a := range []string{"203.0.113.10", "198.51.100.0/24", "2001:db8:abcd::/48"} {
		err = errors.Join(err, srv.AddAccessListEntry(org, old.ID, a))
	}
	err = errors.Join(err,
		srv.AssignAPIKey(env.ProjectID, old.ID, atlaskeys.RoleGroupReadOnly),
		srv.AssignAPIKey(reporting, old.ID, atlaskeys.RoleGroupDataAccessReadOnly, atlaskeys.RoleGroupReadOnly))
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("seeding the fake Atlas: %w", err)
	}
	fmt.Fprintf(out, "No ATLAS_* credentials set: using the built-in fake Atlas at %s (organization %s),\n", srv.URL, org)
	fmt.Fprintf(out, "seeded with key %s (%s) to rotate.\n", old.PublicKey, old.ID)
	return &target{Env: env, keyID: old.ID, deleteOld: true}, nil
}

func run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	t, err := connect(out, getenv)
	if err != nil {
		return err
	}
	defer t.Close()
	c, err := atlaskeys.NewClient(t.Options...)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n• "+format+"\n", args...) }

	// 1. Rotate. OnCreate stores the secret the moment Atlas shows it, so a
	// crash later in the rotation does not lose it (a rerun converges the
	// same key).
	step("Rotating key %s", t.keyID)
	secretFile := getenv("ATLAS_NEW_SECRET_FILE")
	rot, err := c.Rotate(ctx, t.OrgID, t.keyID, atlaskeys.RotateOptions{
		OnCreate: func(_ context.Context, k *atlaskeys.APIKey) error {
			if secretFile == "" {
				return nil
			}
			return os.WriteFile(secretFile, []byte(k.PrivateKey.Reveal()+"\n"), 0o600)
		},
	})
	if err != nil {
		return err // a *RotationError: the organization is as it was
	}
	describe(out, "old", rot.Old, rot)
	describe(out, "new", rot.New, rot)
	if secretFile != "" {
		fmt.Fprintf(out, "  new private key written to %s\n", secretFile)
	} else {
		fmt.Fprintf(out, "  new private key (shown once, store it now): %s\n", rot.New.PrivateKey.Reveal())
	}
	fmt.Fprintf(out, "  printed with %%v, the key shows its secret as %v\n", rot.New.PrivateKey)
	fmt.Fprintf(out, "  steps: %s\n", joinSteps(rot.Steps))

	// 2. Check the copy against what Atlas now holds.
	step("Comparing the two keys as Atlas holds them")
	same, err := compare(ctx, c, t.OrgID, rot.Old.ID, rot.New.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  organization roles, project roles and access list identical: %v\n", same)
	if !same {
		return errors.New("the replacement differs from the old key")
	}

	// 3. A rerun finds the replacement by its description marker.
	step("Running the rotation again (as after a crash or a repeated job)")
	again, err := c.Rotate(ctx, t.OrgID, t.keyID, atlaskeys.RotateOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  resumed: %v, same replacement: %v, changes made: %d, secret available: %v\n",
		again.Resumed, again.New.ID == rot.New.ID, len(again.Steps), !again.New.PrivateKey.IsZero())

	// 4. Failure is undone (fake Atlas only: it can inject a fault).
	if t.Fake != nil {
		if err := failureDemo(ctx, out, c, t); err != nil {
			return err
		}
	}

	// 5. Retire the old key once the new secret is deployed.
	if !t.deleteOld {
		step("Keeping old key %s: deploy the new secret, then rerun with ATLAS_DELETE_OLD=true or call RetireOld", rot.Old.ID)
		return nil
	}
	step("Retiring old key %s", rot.Old.ID)
	if err := c.RetireOld(ctx, t.OrgID, rot); err != nil {
		return err
	}
	fmt.Fprintf(out, "  old key deleted: %v\n", rot.OldDeleted)
	return nil
}

// failureDemo rotates a second key with a fault injected at its second
// project assignment and shows that the organization is left as it was.
func failureDemo(ctx context.Context, out io.Writer, c *atlaskeys.Client, t *target) error {
	srv := t.Fake
	k := srv.AddAPIKey(t.OrgID, "nightly backup", atlaskeys.RoleOrgMember)
	p := srv.AddProject(t.OrgID, "Backups")
	if err := errors.Join(
		srv.AddAccessListEntry(t.OrgID, k.ID, "192.0.2.0/24"),
		srv.AssignAPIKey(srv.ProjectID(), k.ID, atlaskeys.RoleGroupBackupManager),
		srv.AssignAPIKey(p, k.ID, atlaskeys.RoleGroupBackupManager),
	); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n• Rotating key %s with Atlas failing (500) at its second project assignment\n", k.ID)
	srv.InjectFault(atlastest.Fault{Method: "POST", Path: "/api/atlas/v2/groups/*/apiKeys/*", Skip: 1, Status: 500})
	before := srv.Snapshot()
	_, err := c.Rotate(ctx, t.OrgID, k.ID, atlaskeys.RotateOptions{})
	var rerr *atlaskeys.RotationError
	if !errors.As(err, &rerr) {
		return fmt.Errorf("expected a rotation error, got %v", err)
	}
	fmt.Fprintf(out, "  failed at: %s (errors.Is(err, atlaskeys.ErrServer): %v)\n", rerr.Failed, errors.Is(err, atlaskeys.ErrServer))
	fmt.Fprintf(out, "  done:      %s\n", joinSteps(rerr.Done))
	fmt.Fprintf(out, "  undone:    %s\n", joinSteps(rerr.Undone))
	fmt.Fprintf(out, "  organization exactly as before: %v\n", reflect.DeepEqual(before, srv.Snapshot()))
	return nil
}

// describe prints a key's roles and, from the rotation, its access list.
func describe(out io.Writer, label string, k *atlaskeys.APIKey, r *atlaskeys.Rotation) {
	fmt.Fprintf(out, "  %s key %s (%s) %q\n", label, k.PublicKey, k.ID, k.Desc)
	fmt.Fprintf(out, "      organization roles %v\n", k.OrgRoles())
	projects := k.ProjectRoles()
	for _, g := range sortedKeys(projects) {
		roles := slices.Clone(projects[g])
		slices.Sort(roles)
		fmt.Fprintf(out, "      project %s: %v\n", g, roles)
	}
	if label == "old" {
		var addrs []string
		for _, a := range r.AccessList {
			if a.IPAddress != "" {
				addrs = append(addrs, a.IPAddress+" (address)")
			} else {
				addrs = append(addrs, a.CIDRBlock+" (block)")
			}
		}
		fmt.Fprintf(out, "      access list: %s\n", strings.Join(addrs, ", "))
	}
}

// compare reads both keys back from Atlas and reports whether their roles
// and access lists are the same.
func compare(ctx context.Context, c *atlaskeys.Client, org, oldID, newID string) (bool, error) {
	type view struct {
		org      []string
		projects map[string][]string
		access   []string
	}
	read := func(id string) (view, error) {
		k, _, err := c.OrgAPIKeys.Get(ctx, org, id)
		if err != nil {
			return view{}, err
		}
		v := view{org: k.OrgRoles(), projects: k.ProjectRoles()}
		slices.Sort(v.org)
		for _, r := range v.projects {
			slices.Sort(r)
		}
		for e, err := range c.AccessList.All(ctx, org, id, nil) {
			if err != nil {
				return view{}, err
			}
			v.access = append(v.access, e.IPAddress+"|"+e.CIDRBlock)
		}
		slices.Sort(v.access)
		return v, nil
	}
	a, err := read(oldID)
	if err != nil {
		return false, err
	}
	b, err := read(newID)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(a, b), nil
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func joinSteps(steps []atlaskeys.RotationStep) string {
	if len(steps) == 0 {
		return "none"
	}
	s := make([]string, len(steps))
	for i, st := range steps {
		s[i] = st.String()
	}
	return strings.Join(s, "; ")
}
