package atlaskeys

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
)

// DefaultAuditConcurrency is how many access lists Audit fetches at once
// when AuditOptions.Concurrency is 0.
const DefaultAuditConcurrency = 8

// AuditOptions tunes Client.Audit. A nil *AuditOptions means the defaults.
type AuditOptions struct {
	// Concurrency bounds how many access lists are fetched at once (0 means
	// DefaultAuditConcurrency).
	Concurrency int
}

// FindingKind names what an audit found wrong with a key.
type FindingKind string

// The kinds of finding, in the order a key's findings are reported.
const (
	// FindingNoAccessList: the key has no IP access list, so it can be used
	// from any address.
	FindingNoAccessList FindingKind = "NO_ACCESS_LIST"
	// FindingOpenAccessList: the key's access list holds 0.0.0.0/0 or ::/0,
	// which is open to the world.
	FindingOpenAccessList FindingKind = "OPEN_ACCESS_LIST"
	// FindingOrgOwner: the key holds ORG_OWNER, full control of the
	// organization.
	FindingOrgOwner FindingKind = "ORG_OWNER"
	// FindingUnused: the key is assigned to no project and holds no
	// organization role beyond ORG_MEMBER, so it can do next to nothing and
	// is probably unused.
	FindingUnused FindingKind = "UNUSED"
)

var findingOrder = []FindingKind{FindingNoAccessList, FindingOpenAccessList, FindingOrgOwner, FindingUnused}

// Finding is one problem with one key.
type Finding struct {
	Kind FindingKind
	// KeyID and PublicKey identify the key.
	KeyID     string
	PublicKey string
	// Detail explains the finding, such as the open entries.
	Detail string
}

// String reads like "OPEN_ACCESS_LIST abcdefgh (64a…): 0.0.0.0/0".
func (f Finding) String() string {
	s := fmt.Sprintf("%s %s (%s)", f.Kind, f.PublicKey, f.KeyID)
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	return s
}

// AuditedKey is one key of the organization as the audit saw it.
type AuditedKey struct {
	ID        string
	PublicKey string
	Desc      string
	// OrgRoles are the key's organization roles.
	OrgRoles []string
	// ProjectRoles are its roles by project id.
	ProjectRoles map[string][]string
	// AccessList is its whole IP access list.
	AccessList []AccessListEntry
}

// AuditReport is the result of Client.Audit.
type AuditReport struct {
	OrgID string
	// Keys holds every API key of the organization, sorted by description,
	// then id.
	Keys []AuditedKey
	// Findings lists the problems found, in the order of Keys, and for one
	// key in the order NO_ACCESS_LIST, OPEN_ACCESS_LIST, ORG_OWNER, UNUSED.
	Findings []Finding
}

// FindingsFor returns the findings of one key.
func (r *AuditReport) FindingsFor(keyID string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.KeyID == keyID {
			out = append(out, f)
		}
	}
	return out
}

// Audit reads every API key of the organization with its organization
// roles, project roles and access list, and reports findings:
// FindingNoAccessList, FindingOpenAccessList (0.0.0.0/0 or ::/0),
// FindingOrgOwner and FindingUnused (no project, no organization role
// beyond ORG_MEMBER).
//
// The keys are listed page by page; their access lists are then fetched
// concurrently, at most opts.Concurrency at a time. The report's order is
// deterministic (see AuditReport). The first error stops the audit and is
// returned. Audit only reads; the calling key needs the Organization Member
// role. opts may be nil.
func (c *Client) Audit(ctx context.Context, orgID string, opts *AuditOptions) (*AuditReport, error) {
	if err := checkID("orgID", orgID); err != nil {
		return nil, err
	}
	var o AuditOptions
	if opts != nil {
		o = *opts
	}
	if o.Concurrency < 0 {
		return nil, invalidArg("opts.Concurrency", "must not be negative (0 means 8)")
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultAuditConcurrency
	}

	var keys []AuditedKey
	for k, err := range c.OrgAPIKeys.All(ctx, orgID, &ListOptions{ItemsPerPage: MaxItemsPerPage}) {
		if err != nil {
			return nil, fmt.Errorf("atlaskeys: audit of organization %s: listing keys: %w", orgID, err)
		}
		keys = append(keys, AuditedKey{
			ID:           k.ID,
			PublicKey:    k.PublicKey,
			Desc:         k.Desc,
			OrgRoles:     k.OrgRoles(),
			ProjectRoles: k.ProjectRoles(),
		})
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].Desc != keys[j].Desc {
			return keys[i].Desc < keys[j].Desc
		}
		return keys[i].ID < keys[j].ID
	})

	if err := c.fetchAccessLists(ctx, orgID, keys, o.Concurrency); err != nil {
		return nil, err
	}

	report := &AuditReport{OrgID: orgID, Keys: keys}
	for i := range keys {
		report.Findings = append(report.Findings, auditKey(&keys[i])...)
	}
	return report, nil
}

// fetchAccessLists fills each key's AccessList, at most limit at a time.
// The first error cancels the others and is returned.
func (c *Client) fetchAccessLists(ctx context.Context, orgID string, keys []AuditedKey, limit int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, limit)
	for i := range keys {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(k *AuditedKey) {
			defer wg.Done()
			defer func() { <-sem }()
			list := []AccessListEntry{}
			for e, err := range c.AccessList.All(ctx, orgID, k.ID, &ListOptions{ItemsPerPage: MaxItemsPerPage}) {
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("atlaskeys: audit of organization %s: access list of key %s: %w", orgID, k.ID, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				list = append(list, *e)
			}
			k.AccessList = list
		}(&keys[i])
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// auditKey returns the findings for one key, in findingOrder.
func auditKey(k *AuditedKey) []Finding {
	found := map[FindingKind]string{}
	if len(k.AccessList) == 0 {
		found[FindingNoAccessList] = "usable from any IP address"
	}
	var open []string
	for _, e := range k.AccessList {
		if isOpenToWorld(e.Address()) {
			open = append(open, e.Address())
		}
	}
	if len(open) > 0 {
		found[FindingOpenAccessList] = fmt.Sprintf("access list allows %v", open)
	}
	if slices.Contains(k.OrgRoles, RoleOrgOwner) {
		found[FindingOrgOwner] = "API key holds " + RoleOrgOwner
	}
	beyondMember := false
	for _, r := range k.OrgRoles {
		if r != RoleOrgMember {
			beyondMember = true
		}
	}
	if len(k.ProjectRoles) == 0 && !beyondMember {
		found[FindingUnused] = "no project and no organization role beyond " + RoleOrgMember
	}
	var out []Finding
	for _, kind := range findingOrder {
		if d, ok := found[kind]; ok {
			out = append(out, Finding{Kind: kind, KeyID: k.ID, PublicKey: k.PublicKey, Detail: d})
		}
	}
	return out
}

// isOpenToWorld reports whether an access-list address is a /0 block.
func isOpenToWorld(address string) bool {
	p, err := netip.ParsePrefix(address)
	return err == nil && p.Bits() == 0
}
