package atlaskeys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Organization roles an API key can hold, as listed by the Atlas Admin API v2.
const (
	RoleOrgOwner                 = "ORG_OWNER"
	RoleOrgMember                = "ORG_MEMBER"
	RoleOrgGroupCreator          = "ORG_GROUP_CREATOR"
	RoleOrgBillingAdmin          = "ORG_BILLING_ADMIN"
	RoleOrgBillingReadOnly       = "ORG_BILLING_READ_ONLY"
	RoleOrgStreamProcessingAdmin = "ORG_STREAM_PROCESSING_ADMIN"
	RoleOrgReadOnly              = "ORG_READ_ONLY"
)

// Project roles an API key can hold in a project. The current Atlas contract
// types project roles as plain strings; these are the names its 2025-06
// edition enumerated. Atlas may accept others.
const (
	RoleGroupOwner                 = "GROUP_OWNER"
	RoleGroupReadOnly              = "GROUP_READ_ONLY"
	RoleGroupClusterManager        = "GROUP_CLUSTER_MANAGER"
	RoleGroupDataAccessAdmin       = "GROUP_DATA_ACCESS_ADMIN"
	RoleGroupDataAccessReadOnly    = "GROUP_DATA_ACCESS_READ_ONLY"
	RoleGroupDataAccessReadWrite   = "GROUP_DATA_ACCESS_READ_WRITE"
	RoleGroupDatabaseAccessAdmin   = "GROUP_DATABASE_ACCESS_ADMIN"
	RoleGroupBackupManager         = "GROUP_BACKUP_MANAGER"
	RoleGroupSearchIndexEditor     = "GROUP_SEARCH_INDEX_EDITOR"
	RoleGroupStreamProcessingOwner = "GROUP_STREAM_PROCESSING_OWNER"
	RoleGroupObservabilityViewer   = "GROUP_OBSERVABILITY_VIEWER"
)

// orgRoles lists every organization role the contract accepts.
var orgRoles = []string{
	RoleOrgOwner, RoleOrgMember, RoleOrgGroupCreator, RoleOrgBillingAdmin,
	RoleOrgBillingReadOnly, RoleOrgStreamProcessingAdmin, RoleOrgReadOnly,
}

// OrgRoleNames returns every organization role the contract accepts, in a
// new slice each time (so the client's own validation cannot be changed).
func OrgRoleNames() []string { return slices.Clone(orgRoles) }

// redacted is what every rendering of a Secret shows instead of its value.
const redacted = "[REDACTED]"

// Secret holds a credential such as an API key's private key. Its value is
// only available through Reveal: fmt (every verb), slog and encoding/json all
// render it as "[REDACTED]", so an APIKey can be printed or logged safely.
type Secret string

// Reveal returns the secret's value. Call it only where the value must be
// used, for example to hand the private key to a secret store.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns a redacted Go-syntax representation, for %#v.
func (s Secret) GoString() string { return `atlaskeys.Secret("` + redacted + `")` }

// Format renders the secret redacted for every fmt verb.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
	case 'q':
		_, _ = f.Write([]byte(`"` + redacted + `"`))
		return
	}
	_, _ = f.Write([]byte(redacted))
}

// LogValue renders the secret redacted in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON renders the secret redacted: a Secret never leaves the process
// through encoding/json. Note what this means: encoding an APIKey fresh from
// Create (to cache it, say) drops its private key. Store PrivateKey.Reveal()
// deliberately instead.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText renders the secret redacted, for encoders that use
// encoding.TextMarshaler (such as slog's text handler and some loggers).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalJSON reads the secret's value from a JSON string.
func (s *Secret) UnmarshalJSON(b []byte) error {
	// Fast path for the common case, a plain string without escapes:
	// a list of keys decodes one Secret per key.
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b[1:n-1], '\\') < 0 && utf8.Valid(b[1:n-1]) {
		*s = Secret(b[1 : n-1])
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

// Link is a related resource, as Atlas returns in "links" (RFC 5988).
type Link struct {
	Href string `json:"href,omitempty"`
	Rel  string `json:"rel,omitempty"`
}

// RoleAssignment is one role held by an API key, in an organization (OrgID
// set) or in a project (GroupID set).
type RoleAssignment struct {
	OrgID    string `json:"orgId,omitempty"`
	GroupID  string `json:"groupId,omitempty"`
	RoleName string `json:"roleName,omitempty"`
}

// APIKey is an organization's programmatic API key.
//
// PrivateKey is unredacted only in the response to a create call; read it
// with PrivateKey.Reveal(). Printing or logging an APIKey shows it redacted.
type APIKey struct {
	ID         string           `json:"id,omitempty"`
	Desc       string           `json:"desc,omitempty"`
	PublicKey  string           `json:"publicKey,omitempty"`
	PrivateKey Secret           `json:"privateKey,omitempty"`
	Roles      []RoleAssignment `json:"roles,omitempty"`
	Links      []Link           `json:"links,omitempty"`
}

// OrgRoles returns the names of the organization roles the key holds.
func (k *APIKey) OrgRoles() []string {
	var out []string
	for _, r := range k.Roles {
		if r.GroupID == "" {
			out = append(out, r.RoleName)
		}
	}
	return out
}

// ProjectRoles returns the key's project roles grouped by project id.
func (k *APIKey) ProjectRoles() map[string][]string {
	out := map[string][]string{}
	for _, r := range k.Roles {
		if r.GroupID != "" {
			out[r.GroupID] = append(out[r.GroupID], r.RoleName)
		}
	}
	return out
}

// CreateAPIKeyRequest is the body of OrgAPIKeys.Create and ProjectAPIKeys.Create.
// Desc must be 1 to 250 characters and Roles must hold at least one role.
type CreateAPIKeyRequest struct {
	Desc  string   `json:"desc"`
	Roles []string `json:"roles"`
}

// UpdateAPIKeyRequest is the body of OrgAPIKeys.Update and
// ProjectAPIKeys.UpdateRoles. Set at least one field; an empty field is left
// unchanged. For UpdateRoles, Roles replaces the key's roles in the project.
type UpdateAPIKeyRequest struct {
	Desc  string   `json:"desc,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

// AccessListRequest is one entry to add to an API key's access list: set
// exactly one of IPAddress ("203.0.113.10") or CIDRBlock ("203.0.113.0/24").
type AccessListRequest struct {
	IPAddress string `json:"ipAddress,omitempty"`
	CIDRBlock string `json:"cidrBlock,omitempty"`
}

// AccessListEntry is one entry of an API key's IP access list.
type AccessListEntry struct {
	IPAddress       string     `json:"ipAddress,omitempty"`
	CIDRBlock       string     `json:"cidrBlock,omitempty"`
	LastUsedAddress string     `json:"lastUsedAddress,omitempty"`
	Count           int        `json:"count,omitempty"`
	Created         time.Time  `json:"created"`
	LastUsed        *time.Time `json:"lastUsed,omitempty"`
	Links           []Link     `json:"links,omitempty"`
}

// Address returns the value AccessList.Get and AccessList.Delete take for
// this entry: its IP address for a single-address entry (which Atlas lists
// with both ipAddress and a /32 or /128 cidrBlock), else its CIDR block.
func (e *AccessListEntry) Address() string {
	if e.isSingleAddress() {
		return e.IPAddress
	}
	return e.CIDRBlock
}

// Request returns the request that would recreate this entry, for example
// on another key: IPAddress for a single address, else CIDRBlock.
func (e *AccessListEntry) Request() AccessListRequest {
	if e.isSingleAddress() {
		return AccessListRequest{IPAddress: e.IPAddress}
	}
	return AccessListRequest{CIDRBlock: e.CIDRBlock}
}

func (e *AccessListEntry) isSingleAddress() bool {
	if e.IPAddress == "" {
		return false
	}
	if e.CIDRBlock == "" {
		return true
	}
	p, err := netip.ParsePrefix(e.CIDRBlock)
	return err == nil && p.Bits() == p.Addr().BitLen()
}

// projectRoleAssignment is the wire body item of ProjectAPIKeys.Assign.
type projectRoleAssignment struct {
	Roles []string `json:"roles"`
}

func (r *CreateAPIKeyRequest) validate(orgRolesOnly bool) error {
	if r == nil {
		return invalidArg("req", "must not be nil")
	}
	if err := checkDesc(r.Desc, true); err != nil {
		return err
	}
	if len(r.Roles) == 0 {
		return invalidArg("req.Roles", "must hold at least one role")
	}
	return checkRoles("req.Roles", r.Roles, orgRolesOnly)
}

func (r *UpdateAPIKeyRequest) validate(orgRolesOnly, rolesRequired bool) error {
	if r == nil {
		return invalidArg("req", "must not be nil")
	}
	if r.Desc == "" && len(r.Roles) == 0 {
		return invalidArg("req", "set Desc, Roles or both")
	}
	if rolesRequired && len(r.Roles) == 0 {
		return invalidArg("req.Roles", "must hold at least one role")
	}
	if err := checkDesc(r.Desc, false); err != nil {
		return err
	}
	return checkRoles("req.Roles", r.Roles, orgRolesOnly)
}

func checkDesc(desc string, required bool) error {
	n := utf8.RuneCountInString(desc)
	switch {
	case n == 0 && required:
		return invalidArg("req.Desc", "must not be empty")
	case n > 250:
		return invalidArg("req.Desc", fmt.Sprintf("is %d characters; the limit is 250", n))
	}
	return nil
}

func checkRoles(arg string, roles []string, orgOnly bool) error {
	for i, r := range roles {
		switch {
		case r == "":
			return invalidArg(fmt.Sprintf("%s[%d]", arg, i), "must not be empty")
		case strings.TrimSpace(r) != r:
			return invalidArg(fmt.Sprintf("%s[%d]", arg, i), fmt.Sprintf("%q has surrounding spaces", r))
		case orgOnly && !isOrgRole(r):
			return invalidArg(fmt.Sprintf("%s[%d]", arg, i),
				fmt.Sprintf("%q is not an organization role (one of %s)", r, strings.Join(orgRoles, ", ")))
		case !orgOnly && strings.HasPrefix(r, "ORG_"):
			return invalidArg(fmt.Sprintf("%s[%d]", arg, i), fmt.Sprintf("%q is an organization role; a project takes GROUP_* roles", r))
		}
	}
	return nil
}

func isOrgRole(r string) bool {
	for _, o := range orgRoles {
		if r == o {
			return true
		}
	}
	return false
}

func validateAccessListRequests(entries []AccessListRequest) error {
	if len(entries) == 0 {
		return invalidArg("entries", "must hold at least one entry")
	}
	for i, e := range entries {
		arg := fmt.Sprintf("entries[%d]", i)
		switch {
		case e.IPAddress == "" && e.CIDRBlock == "":
			return invalidArg(arg, "set exactly one of IPAddress or CIDRBlock; both are empty")
		case e.IPAddress != "" && e.CIDRBlock != "":
			return invalidArg(arg, "set exactly one of IPAddress or CIDRBlock, not both")
		case e.IPAddress != "":
			if _, err := parseIP(e.IPAddress); err != nil {
				return invalidArg(arg+".IPAddress", err.Error())
			}
		default:
			if _, err := netip.ParsePrefix(e.CIDRBlock); err != nil {
				return invalidArg(arg+".CIDRBlock", fmt.Sprintf("%q is not a CIDR block such as 203.0.113.0/24", e.CIDRBlock))
			}
		}
	}
	return nil
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
	}
	return a, nil
}
