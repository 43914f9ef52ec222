// Command audit lists every API key of an organization with its roles and
// IP access list, and reports what looks wrong: keys without an access
// list, access lists open to the world, keys holding ORG_OWNER, and keys
// that can do next to nothing (no project, no role beyond ORG_MEMBER).
//
// Without credentials it audits the in-memory fake Atlas from package
// atlastest, seeded with keys that show each finding:
//
//	go run ./examples/audit
//
// With ATLAS_PUBLIC_KEY, ATLAS_PRIVATE_KEY and ATLAS_ORG_ID set it audits
// that organization on real Atlas (it only reads).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
	"github.com/seed243cb23e/atlaskeys/examples/internal/atlasenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
}

// seed adds keys to the fake organization, one per kind of finding and a
// clean one. Its admin key (ORG_OWNER, no access list) is audited too.
func seed(srv *atlastest.Server) error {
	org := srv.OrgID()
	analytics := srv.AddProject(org, "Analytics")
	var errs []error
	key := func(desc string, roles []string, access []string, projects map[string][]string) {
		k := srv.AddAPIKey(org, desc, roles...)
		for _, a := range access {
			errs = append(errs, srv.AddAccessListEntry(org, k.ID, a))
		}
		for g, r := range projects {
			errs = append(errs, srv.AssignAPIKey(g, k.ID, r...))
		}
	}
	key("ci deployer", []string{atlaskeys.RoleOrgMember}, []string{"203.0.113.10", "198.51.100.0/24"},
		map[string][]string{srv.ProjectID(): {atlaskeys.RoleGroupClusterManager}})
	key("dashboard (open to the world)", []string{atlaskeys.RoleOrgReadOnly}, []string{"0.0.0.0/0", "::/0"}, nil)
	key("terraform", []string{atlaskeys.RoleOrgOwner}, []string{"192.0.2.10"}, nil)
	key("old intern script", []string{atlaskeys.RoleOrgMember}, []string{"192.0.2.0/24"}, nil)
	key("analytics reader", []string{atlaskeys.RoleOrgMember}, nil,
		map[string][]string{analytics: {atlaskeys.RoleGroupDataAccessReadOnly}})
	return errors.Join(errs...)
}

func run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	t, err := atlasenv.Connect(getenv, "atlaskeys-audit")
	if err != nil {
		return err
	}
	defer t.Close()
	if t.Fake != nil {
		if err := seed(t.Fake); err != nil {
			return fmt.Errorf("seeding the fake Atlas: %w", err)
		}
		fmt.Fprintf(out, "No ATLAS_* credentials set: auditing the built-in fake Atlas at %s (organization %s).\n", t.Fake.URL, t.OrgID)
	} else {
		fmt.Fprintf(out, "Auditing organization %s on real Atlas.\n", t.OrgID)
	}
	c, err := atlaskeys.NewClient(t.Options...)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))

	rep, err := c.Audit(ctx, t.OrgID, &atlaskeys.AuditOptions{Concurrency: 8})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\n%d API keys:\n\n", len(rep.Keys))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PUBLIC KEY\tDESCRIPTION\tORG ROLES\tPROJECTS\tACCESS LIST")
	for _, k := range rep.Keys {
		roles := slices.Clone(k.OrgRoles)
		slices.Sort(roles)
		var projects []string
		for g, r := range k.ProjectRoles {
			r = slices.Clone(r)
			slices.Sort(r)
			projects = append(projects, g+"="+strings.Join(r, "+"))
		}
		slices.Sort(projects)
		var access []string
		for _, e := range k.AccessList {
			if e.IPAddress != "" {
				access = append(access, e.IPAddress) // Atlas lists it with a /32 or /128 block too
			} else {
				access = append(access, e.CIDRBlock)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.PublicKey, k.Desc, strings.Join(roles, ","),
			orNone(strings.Join(projects, " ")), orNone(strings.Join(access, " ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n%d findings:\n", len(rep.Findings))
	for _, f := range rep.Findings {
		fmt.Fprintf(out, "  %-17s %s (%s): %s\n", f.Kind, f.PublicKey, f.KeyID, f.Detail)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
