package atlaskeys_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
)

// newExampleClient starts a fake Atlas and returns a client for it, its
// organization and project, and a function that stops it.
func newExampleClient() (*atlaskeys.Client, string, string, func()) {
	srv := atlastest.NewServer()
	pub, priv := srv.AdminKey()
	c, err := atlaskeys.NewClient(
		atlaskeys.WithDigestAuth(pub, priv),
		atlaskeys.WithBaseURL(srv.URL), // leave out to talk to https://cloud.mongodb.com
	)
	if err != nil {
		log.Fatal(err)
	}
	return c, srv.OrgID(), srv.ProjectID(), srv.Close
}

func ExampleNewClient() {
	c, err := atlaskeys.NewClient(
		atlaskeys.WithDigestAuth(os.Getenv("ATLAS_PUBLIC_KEY"), os.Getenv("ATLAS_PRIVATE_KEY")),
		atlaskeys.WithUserAgent("my-automation/1.2"),
	)
	if err != nil {
		fmt.Println("configuration error:", errors.Is(err, atlaskeys.ErrInvalidArgument))
		return
	}
	_ = c
}

func ExampleOrgAPIKeysService_Create() {
	c, orgID, _, stop := newExampleClient()
	defer stop()
	ctx := context.Background()

	key, _, err := c.OrgAPIKeys.Create(ctx, orgID, &atlaskeys.CreateAPIKeyRequest{
		Desc:  "ci deployer",
		Roles: []string{atlaskeys.RoleOrgMember},
	})
	if err != nil {
		log.Fatal(err)
	}
	secret := key.PrivateKey.Reveal() // shown by Atlas this once: store it now
	fmt.Println(key.Desc, key.OrgRoles(), len(secret) > 0)
	fmt.Printf("%v\n", key.PrivateKey) // every other rendering is redacted
	// Output:
	// ci deployer [ORG_MEMBER] true
	// [REDACTED]
}

func ExampleOrgAPIKeysService_All() {
	c, orgID, _, stop := newExampleClient()
	defer stop()
	ctx := context.Background()
	for _, d := range []string{"alpha", "beta", "gamma"} {
		if _, _, err := c.OrgAPIKeys.Create(ctx, orgID, &atlaskeys.CreateAPIKeyRequest{Desc: d, Roles: []string{atlaskeys.RoleOrgReadOnly}}); err != nil {
			log.Fatal(err)
		}
	}

	// Pages of two are fetched as the loop needs them; break stops fetching.
	for key, err := range c.OrgAPIKeys.All(ctx, orgID, &atlaskeys.ListOptions{ItemsPerPage: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(key.Desc)
	}
	// Output:
	// atlastest admin
	// alpha
	// beta
	// gamma
}

func ExampleAccessListService_Create() {
	c, orgID, _, stop := newExampleClient()
	defer stop()
	ctx := context.Background()
	key, _, err := c.OrgAPIKeys.Create(ctx, orgID, &atlaskeys.CreateAPIKeyRequest{Desc: "deployer", Roles: []string{atlaskeys.RoleOrgMember}})
	if err != nil {
		log.Fatal(err)
	}

	_, _, err = c.AccessList.Create(ctx, orgID, key.ID, []atlaskeys.AccessListRequest{
		{IPAddress: "203.0.113.10"},
		{CIDRBlock: "10.0.0.0/24"},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The CIDR block is escaped once for the path: .../accessList/10.0.0.0%2F24
	entry, _, err := c.AccessList.Get(ctx, orgID, key.ID, "10.0.0.0/24")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(entry.CIDRBlock)
	if _, err := c.AccessList.Delete(ctx, orgID, key.ID, "10.0.0.0/24"); err != nil {
		log.Fatal(err)
	}
	for e, err := range c.AccessList.All(ctx, orgID, key.ID, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("left:", e.IPAddress)
	}
	// Output:
	// 10.0.0.0/24
	// left: 203.0.113.10
}

func ExampleProjectAPIKeysService_Assign() {
	c, orgID, projectID, stop := newExampleClient()
	defer stop()
	ctx := context.Background()
	key, _, err := c.OrgAPIKeys.Create(ctx, orgID, &atlaskeys.CreateAPIKeyRequest{Desc: "reporting", Roles: []string{atlaskeys.RoleOrgMember}})
	if err != nil {
		log.Fatal(err)
	}

	if _, err := c.ProjectAPIKeys.Assign(ctx, projectID, key.ID, []string{atlaskeys.RoleGroupReadOnly}); err != nil {
		log.Fatal(err)
	}
	key, _, err = c.ProjectAPIKeys.UpdateRoles(ctx, projectID, key.ID, &atlaskeys.UpdateAPIKeyRequest{
		Roles: []string{atlaskeys.RoleGroupDataAccessReadOnly}, // replaces the key's roles in the project
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.ProjectRoles()[projectID])
	if _, err := c.ProjectAPIKeys.Unassign(ctx, projectID, key.ID); err != nil {
		log.Fatal(err)
	}
	key, _, err = c.OrgAPIKeys.Get(ctx, orgID, key.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(key.ProjectRoles()))
	// Output:
	// [GROUP_DATA_ACCESS_READ_ONLY]
	// 0
}

func ExampleAPIError() {
	c, orgID, _, stop := newExampleClient()
	defer stop()

	_, _, err := c.OrgAPIKeys.Get(context.Background(), orgID, "0123456789abcdef01234567")
	var apiErr *atlaskeys.APIError
	switch {
	case errors.Is(err, atlaskeys.ErrNotFound) && errors.As(err, &apiErr):
		fmt.Println(apiErr.HTTPStatus, apiErr.ErrorCode)
	case err != nil:
		log.Fatal(err)
	}

	// Bad input is refused before anything is sent, naming the argument.
	_, _, err = c.OrgAPIKeys.Get(context.Background(), orgID, "abcdefgh")
	fmt.Println(errors.Is(err, atlaskeys.ErrInvalidArgument))
	fmt.Println(err)
	// Output:
	// 404 API_KEY_NOT_FOUND
	// true
	// atlaskeys: invalid argument apiKeyID: "abcdefgh" is not a 24-hex-digit id; it looks like an 8-character public key: pass the key's ID field instead
}

func ExampleItems() {
	c, orgID, _, stop := newExampleClient()
	defer stop()
	ctx := context.Background()

	// Items turns any list call into a lazy iterator.
	fetch := func(ctx context.Context, o *atlaskeys.ListOptions) (*atlaskeys.Page[atlaskeys.APIKey], *atlaskeys.Response, error) {
		return c.OrgAPIKeys.List(ctx, orgID, o)
	}
	n := 0
	for _, err := range atlaskeys.Items(ctx, nil, fetch) {
		if err != nil {
			log.Fatal(err)
		}
		n++
	}
	fmt.Println(n, "key")
	// Output:
	// 1 key
}

func ExampleClient_Rotate() {
	c, orgID, projectID, stop := newExampleClient()
	defer stop()
	ctx := context.Background()
	old, _, err := c.OrgAPIKeys.Create(ctx, orgID, &atlaskeys.CreateAPIKeyRequest{Desc: "deployer", Roles: []string{atlaskeys.RoleOrgMember}})
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := c.AccessList.Create(ctx, orgID, old.ID, []atlaskeys.AccessListRequest{{CIDRBlock: "10.0.0.0/24"}}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.ProjectAPIKeys.Assign(ctx, projectID, old.ID, []string{atlaskeys.RoleGroupReadOnly}); err != nil {
		log.Fatal(err)
	}

	saved := map[string]string{} // stands in for a secret store
	rot, err := c.Rotate(ctx, orgID, old.ID, atlaskeys.RotateOptions{
		// Store the secret the moment it exists, so an interrupted run is still usable.
		OnCreate: func(ctx context.Context, k *atlaskeys.APIKey) error {
			saved[k.PublicKey] = k.PrivateKey.Reveal()
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rot.New.OrgRoles(), rot.New.ProjectRoles()[projectID], len(saved[rot.New.PublicKey]) > 0)
	// … deploy the new secret, then retire the old key:
	if err := c.RetireOld(ctx, orgID, rot); err != nil {
		log.Fatal(err)
	}
	_, _, err = c.OrgAPIKeys.Get(ctx, orgID, old.ID)
	fmt.Println(errors.Is(err, atlaskeys.ErrNotFound))
	// Output:
	// [ORG_MEMBER] [GROUP_READ_ONLY] true
	// true
}

func ExampleClient_Audit() {
	c, orgID, _, stop := newExampleClient()
	defer stop()
	ctx := context.Background()
	if _, _, err := c.OrgAPIKeys.Create(ctx, orgID, &atlaskeys.CreateAPIKeyRequest{Desc: "forgotten", Roles: []string{atlaskeys.RoleOrgMember}}); err != nil {
		log.Fatal(err)
	}

	report, err := c.Audit(ctx, orgID, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range report.Findings {
		fmt.Println(f.Kind)
	}
	// Output:
	// NO_ACCESS_LIST
	// ORG_OWNER
	// NO_ACCESS_LIST
	// UNUSED
}
