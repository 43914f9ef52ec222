package atlastest

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

var orgRoles = []string{
	"ORG_OWNER", "ORG_MEMBER", "ORG_GROUP_CREATOR", "ORG_BILLING_ADMIN",
	"ORG_BILLING_READ_ONLY", "ORG_STREAM_PROCESSING_ADMIN", "ORG_READ_ONLY",
}

var groupRoles = []string{
	"GROUP_OWNER", "GROUP_READ_ONLY", "GROUP_CLUSTER_MANAGER", "GROUP_DATA_ACCESS_ADMIN",
	"GROUP_DATA_ACCESS_READ_ONLY", "GROUP_DATA_ACCESS_READ_WRITE", "GROUP_DATABASE_ACCESS_ADMIN",
	"GROUP_BACKUP_MANAGER", "GROUP_SEARCH_INDEX_EDITOR", "GROUP_STREAM_PROCESSING_OWNER",
	"GROUP_OBSERVABILITY_VIEWER",
}

func isOrgRole(r string) bool   { return slices.Contains(orgRoles, r) }
func isGroupRole(r string) bool { return slices.Contains(groupRoles, r) }

type state struct {
	orgs     map[string]*org
	orgOrder []string
	projects map[string]*project
	keys     map[string]*apiKey // by id
	byPublic map[string]*apiKey
	accounts map[string]*serviceAccount // by client id
}

func newState() *state {
	return &state{
		orgs:     map[string]*org{},
		projects: map[string]*project{},
		keys:     map[string]*apiKey{},
		byPublic: map[string]*apiKey{},
		accounts: map[string]*serviceAccount{},
	}
}

type org struct {
	id, name string
	projects []string // creation order
	keys     []string // creation order
}

type project struct {
	id, orgID, name string
}

type apiKey struct {
	id, orgID, desc string
	publicKey       string
	privateKey      string
	orgRoles        []string
	groupOrder      []string            // projects in assignment order
	groupRoles      map[string][]string // project id -> roles
	access          []*accessEntry
}

func (k *apiKey) assign(groupID string, roles []string) {
	if _, ok := k.groupRoles[groupID]; !ok {
		k.groupOrder = append(k.groupOrder, groupID)
	}
	k.groupRoles[groupID] = dedupe(roles)
}

func (k *apiKey) unassign(groupID string) {
	delete(k.groupRoles, groupID)
	k.groupOrder = slices.DeleteFunc(k.groupOrder, func(g string) bool { return g == groupID })
}

func (k *apiKey) findEntry(key string) *accessEntry {
	for _, e := range k.access {
		if e.key() == key {
			return e
		}
	}
	return nil
}

type accessEntry struct {
	prefix          netip.Prefix
	single          bool // added as ipAddress
	created         time.Time
	count           int
	lastUsed        time.Time
	lastUsedAddress string
}

// key is the canonical form an entry is found by: the masked CIDR block.
func (e *accessEntry) key() string { return e.prefix.String() }

func (e *accessEntry) ipAddress() string {
	if e.single {
		return e.prefix.Addr().String()
	}
	return ""
}

// parseEntry parses an access-list value. With asCIDR it must be a CIDR
// block; otherwise an IP address, or (for path lookups) either.
func parseEntry(v string, asCIDR bool) (*accessEntry, error) {
	if asCIDR {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR block %q", v)
		}
		p = p.Masked()
		single := p.Bits() == p.Addr().BitLen()
		return &accessEntry{prefix: p, single: single}, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return nil, fmt.Errorf("invalid IP address %q", v)
	}
	a = a.Unmap()
	return &accessEntry{prefix: netip.PrefixFrom(a, a.BitLen()), single: true}, nil
}

type serviceAccount struct {
	clientID, secret, orgID string
	orgRoles                []string
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, r := range in {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) createKeyLocked(orgID, desc string, roles []string) *apiKey {
	k := &apiKey{
		id:         s.newID(),
		orgID:      orgID,
		desc:       desc,
		orgRoles:   dedupe(roles),
		groupRoles: map[string][]string{},
	}
	for {
		k.publicKey = s.randString(8, lowerAlnum)
		if s.st.byPublic[k.publicKey] == nil {
			break
		}
	}
	k.privateKey = s.newUUID()
	s.st.keys[k.id] = k
	s.st.byPublic[k.publicKey] = k
	o := s.st.orgs[orgID]
	o.keys = append(o.keys, k.id)
	return k
}

func (s *Server) deleteKeyLocked(k *apiKey) {
	delete(s.st.keys, k.id)
	delete(s.st.byPublic, k.publicKey)
	o := s.st.orgs[k.orgID]
	o.keys = slices.DeleteFunc(o.keys, func(id string) bool { return id == k.id })
	k.groupRoles = map[string][]string{}
	k.groupOrder = nil
	k.access = nil
}

// ---- Snapshot ---------------------------------------------------------------

// Snapshot is a deep copy of the server's state, free of secrets and of
// fields that change on reads (private keys, lastUsed, counts), so two
// snapshots compare equal with assert.Equal when nothing was changed.
type Snapshot struct {
	Orgs []OrgSnapshot
}

// OrgSnapshot is one organization, its projects and its API keys, each in
// creation order.
type OrgSnapshot struct {
	ID       string
	Name     string
	Projects []ProjectSnapshot
	APIKeys  []APIKeySnapshot
}

// ProjectSnapshot is one project.
type ProjectSnapshot struct {
	ID   string
	Name string
}

// APIKeySnapshot is one API key: roles sorted (organization roles first),
// access list as sorted canonical CIDR blocks.
type APIKeySnapshot struct {
	ID         string
	Desc       string
	PublicKey  string
	Roles      []RoleSnapshot
	AccessList []string
}

// RoleSnapshot is one role assignment: OrgID or GroupID is set.
type RoleSnapshot struct {
	OrgID    string
	GroupID  string
	RoleName string
}

// Snapshot returns a deep copy of all organizations, projects, API keys,
// role assignments and access lists.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap Snapshot
	for _, oid := range s.st.orgOrder {
		o := s.st.orgs[oid]
		os := OrgSnapshot{ID: o.id, Name: o.name, Projects: []ProjectSnapshot{}, APIKeys: []APIKeySnapshot{}}
		for _, pid := range o.projects {
			p := s.st.projects[pid]
			os.Projects = append(os.Projects, ProjectSnapshot{ID: p.id, Name: p.name})
		}
		for _, kid := range o.keys {
			k := s.st.keys[kid]
			ks := APIKeySnapshot{ID: k.id, Desc: k.desc, PublicKey: k.publicKey, Roles: []RoleSnapshot{}, AccessList: []string{}}
			for _, wr := range rolesOf(k) {
				ks.Roles = append(ks.Roles, RoleSnapshot{OrgID: wr.OrgID, GroupID: wr.GroupID, RoleName: wr.RoleName})
			}
			sort.SliceStable(ks.Roles, func(i, j int) bool {
				a, b := ks.Roles[i], ks.Roles[j]
				if (a.OrgID != "") != (b.OrgID != "") {
					return a.OrgID != ""
				}
				if a.GroupID != b.GroupID {
					return a.GroupID < b.GroupID
				}
				return a.RoleName < b.RoleName
			})
			for _, e := range k.access {
				ks.AccessList = append(ks.AccessList, e.key())
			}
			sort.Strings(ks.AccessList)
			os.APIKeys = append(os.APIKeys, ks)
		}
		snap.Orgs = append(snap.Orgs, os)
	}
	return snap
}

// rolesOf lists a key's roles as Atlas shows them: organization roles, then
// each project assignment.
func rolesOf(k *apiKey) []wireRole {
	out := []wireRole{}
	for _, r := range sortedCopy(k.orgRoles) {
		out = append(out, wireRole{OrgID: k.orgID, RoleName: r})
	}
	for _, g := range k.groupOrder {
		for _, r := range sortedCopy(k.groupRoles[g]) {
			out = append(out, wireRole{GroupID: g, RoleName: r})
		}
	}
	return out
}

func sortedCopy(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return out
}

func redact(private string) string {
	if len(private) <= 12 {
		return strings.Repeat("*", len(private))
	}
	return "********-****-****-" + private[len(private)-12:]
}
