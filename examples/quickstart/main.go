// Command quickstart walks the whole life of an organization API key:
// create it, give it an access list, assign it to a project, change its
// roles, list keys page by page, and clean up.
//
// With ATLAS_PUBLIC_KEY, ATLAS_PRIVATE_KEY and ATLAS_ORG_ID set it runs
// against real Atlas (set ATLAS_PROJECT_ID too for the project steps; the
// key it creates is deleted at the end). Without them it starts the
// in-memory fake Atlas from package atlastest, so it needs no account and no
// network:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/examples/internal/atlasenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, getenv func(string) string) (err error) {
	t, err := atlasenv.Connect(getenv, "atlaskeys-quickstart")
	if err != nil {
		return err
	}
	defer t.Close()
	if t.Fake != nil {
		fmt.Fprintf(out, "No ATLAS_* credentials set: using the built-in fake Atlas at %s (organization %s).\n", t.Fake.URL, t.OrgID)
	} else {
		fmt.Fprintf(out, "Using real Atlas, organization %s.\n", t.OrgID)
	}
	c, err := atlaskeys.NewClient(t.Options...)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))

	step := func(format string, args ...any) { fmt.Fprintf(out, "\n• "+format+"\n", args...) }

	// 1. Create a key. Its private key is shown by Atlas this once.
	step("Creating an organization API key with role %s", atlaskeys.RoleOrgMember)
	key, _, err := c.OrgAPIKeys.Create(ctx, t.OrgID, &atlaskeys.CreateAPIKeyRequest{
		Desc:  "atlaskeys quickstart " + time.Now().UTC().Format(time.RFC3339),
		Roles: []string{atlaskeys.RoleOrgMember},
	})
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	fmt.Fprintf(out, "  id %s, public key %s\n", key.ID, key.PublicKey)
	fmt.Fprintf(out, "  private key (shown once, via Reveal): %s\n", key.PrivateKey.Reveal())
	fmt.Fprintf(out, "  the same key printed with %%+v: %+v\n", *key)
	defer func() {
		// Clean up even when a later step failed.
		if _, derr := c.OrgAPIKeys.Delete(context.WithoutCancel(ctx), t.OrgID, key.ID); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete key: %w", derr))
			return
		}
		step("Deleted key %s (its access list and project assignment go with it)", key.ID)
	}()

	// 2. Give it an IP access list: one address and one CIDR block.
	step("Adding access-list entries 203.0.113.10 and 198.51.100.0/24")
	entries, _, err := c.AccessList.Create(ctx, t.OrgID, key.ID, []atlaskeys.AccessListRequest{
		{IPAddress: "203.0.113.10"},
		{CIDRBlock: "198.51.100.0/24"},
	})
	if err != nil {
		return fmt.Errorf("add access list: %w", err)
	}
	for _, e := range entries.Results {
		fmt.Fprintf(out, "  entry %s\n", e.Address())
	}
	entry, _, err := c.AccessList.Get(ctx, t.OrgID, key.ID, "198.51.100.0/24") // sent as 198.51.100.0%2F24
	if err != nil {
		return fmt.Errorf("get access-list entry: %w", err)
	}
	fmt.Fprintf(out, "  read back %s (created %s)\n", entry.CIDRBlock, entry.Created.Format(time.RFC3339))
	if _, err := c.AccessList.Delete(ctx, t.OrgID, key.ID, "203.0.113.10"); err != nil {
		return fmt.Errorf("delete access-list entry: %w", err)
	}
	fmt.Fprintln(out, "  removed 203.0.113.10 again")

	// 3. Assign it to a project and change its roles there.
	if t.ProjectID == "" {
		step("Skipping the project steps: set ATLAS_PROJECT_ID to run them")
	} else {
		step("Assigning the key to project %s as %s", t.ProjectID, atlaskeys.RoleGroupReadOnly)
		if _, err := c.ProjectAPIKeys.Assign(ctx, t.ProjectID, key.ID, []string{atlaskeys.RoleGroupReadOnly}); err != nil {
			return fmt.Errorf("assign to project: %w", err)
		}
		step("Changing its project roles to %s and %s", atlaskeys.RoleGroupReadOnly, atlaskeys.RoleGroupDataAccessReadOnly)
		updated, _, err := c.ProjectAPIKeys.UpdateRoles(ctx, t.ProjectID, key.ID, &atlaskeys.UpdateAPIKeyRequest{
			Roles: []string{atlaskeys.RoleGroupReadOnly, atlaskeys.RoleGroupDataAccessReadOnly},
		})
		if err != nil {
			return fmt.Errorf("update project roles: %w", err)
		}
		fmt.Fprintf(out, "  roles in the project now: %v\n", updated.ProjectRoles()[t.ProjectID])
	}

	// 4. Change its description and organization roles.
	step("Renaming the key and granting %s as well", atlaskeys.RoleOrgReadOnly)
	if _, _, err := c.OrgAPIKeys.Update(ctx, t.OrgID, key.ID, &atlaskeys.UpdateAPIKeyRequest{
		Desc:  key.Desc + " (renamed)",
		Roles: []string{atlaskeys.RoleOrgMember, atlaskeys.RoleOrgReadOnly},
	}); err != nil {
		return fmt.Errorf("update key: %w", err)
	}

	// 5. List every key of the organization, one per page, lazily.
	step("Listing the organization's keys one per page: All follows the pages as the loop needs them")
	n := 0
	for k, err := range c.OrgAPIKeys.All(ctx, t.OrgID, &atlaskeys.ListOptions{ItemsPerPage: 1}) {
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		n++
		fmt.Fprintf(out, "  %2d. %s %-40q org roles %v\n", n, k.PublicKey, k.Desc, k.OrgRoles())
	}

	// 6. Errors are values you can test.
	step("Reading a key that does not exist")
	_, _, err = c.OrgAPIKeys.Get(ctx, t.OrgID, "000000000000000000000000")
	var apiErr *atlaskeys.APIError
	switch {
	case errors.Is(err, atlaskeys.ErrNotFound) && errors.As(err, &apiErr):
		fmt.Fprintf(out, "  got %d %s, as expected\n", apiErr.HTTPStatus, apiErr.ErrorCode)
	case err == nil:
		return errors.New("reading a missing key succeeded")
	default:
		return fmt.Errorf("reading a missing key: %w", err)
	}
	return nil
}
