package atlastest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var hex24 = regexp.MustCompile(`^[a-f0-9]{24}$`)

// acceptable reports whether the Accept header asks for the one supported
// version. Atlas refuses an unversioned or missing Accept with 406.
func acceptable(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == vendorMediaType {
				return true
			}
		}
	}
	return false
}

var vendorRE = regexp.MustCompile(`^application/vnd\.atlas\.(\d{4}-\d{2}-\d{2})\+json$`)

// checkContentType accepts application/json or the supported versioned type.
func checkContentType(ct string) *apiErr {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		if mt == "application/json" {
			return nil
		}
		if m := vendorRE.FindStringSubmatch(mt); m != nil && m[1] == supportedVersion {
			return nil
		}
	}
	return newErr(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
		fmt.Sprintf("Content type %q is not supported; use %s.", ct, vendorMediaType), ct)
}

// ---- validation helpers ------------------------------------------------------

func badID(kind, code, v string) *apiErr {
	return newErr(http.StatusBadRequest, code, fmt.Sprintf("An invalid %s ID %s was specified.", kind, v), v)
}

func missing(attr string) *apiErr {
	return newErr(http.StatusBadRequest, "MISSING_ATTRIBUTE",
		fmt.Sprintf("The required attribute %s was not specified.", attr), attr)
}

func invalidAttr(attr, why string) *apiErr {
	return newErr(http.StatusBadRequest, "INVALID_ATTRIBUTE",
		fmt.Sprintf("Invalid attribute %s specified: %s", attr, why), attr)
}

func invalidEnum(v string) *apiErr {
	return newErr(http.StatusBadRequest, "INVALID_ENUM_VALUE",
		fmt.Sprintf("An invalid enumeration value %s was specified.", v), v)
}

func (s *Server) roleErr() *apiErr {
	return newErr(s.cfg.roleErrorStatus, "USER_UNAUTHORIZED", "Current user is not authorized to perform this action.")
}

// decode reads a JSON body strictly: unknown fields are refused, so a typo in
// a client's JSON tag fails loudly.
func decode(body []byte, v any) *apiErr {
	if len(bytes.TrimSpace(body)) == 0 {
		return newErr(http.StatusBadRequest, "INVALID_JSON", "The request body is required.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return newErr(http.StatusBadRequest, "INVALID_JSON_ATTRIBUTE",
				fmt.Sprintf("Received JSON for the %s attribute does not match expected format.", ute.Field), ute.Field)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return newErr(http.StatusBadRequest, "INVALID_JSON_ATTRIBUTE",
				fmt.Sprintf("Received JSON contains the unknown attribute %s.", f), f)
		}
		return newErr(http.StatusBadRequest, "INVALID_JSON", "Received JSON does not match expected format.")
	}
	if dec.More() {
		return newErr(http.StatusBadRequest, "INVALID_JSON", "Received JSON does not match expected format.")
	}
	return nil
}

func checkDesc(d *string, required bool) *apiErr {
	if d == nil {
		if required {
			return missing("desc")
		}
		return nil
	}
	if n := utf8.RuneCountInString(*d); n < 1 || n > 250 {
		return invalidAttr("desc", "it must be 1 to 250 characters long.")
	}
	return nil
}

// keyBody decodes and checks the body of a key create (desc and roles
// required) or update (at least one of them), with roles valid per isRole.
func keyBody(c *call, create bool, isRole func(string) bool) (desc *string, roles []string, err *apiErr) {
	var body wireCreateKey
	if err := decode(c.body, &body); err != nil {
		return nil, nil, err
	}
	if !create && body.Desc == nil && body.Roles == nil {
		return nil, nil, newErr(http.StatusBadRequest, "MISSING_ATTRIBUTE",
			"At least one of the attributes desc or roles must be specified.", "desc", "roles")
	}
	if err := checkDesc(body.Desc, create); err != nil {
		return nil, nil, err
	}
	roles, err = checkRoles(body.Roles, create, isRole)
	return body.Desc, roles, err
}

func checkRoles(roles *[]string, required bool, valid func(string) bool) ([]string, *apiErr) {
	if roles == nil {
		if required {
			return nil, missing("roles")
		}
		return nil, nil
	}
	if len(*roles) == 0 {
		return nil, invalidAttr("roles", "at least one role is required.")
	}
	for _, r := range *roles {
		if !valid(r) {
			return nil, invalidEnum(r)
		}
	}
	return dedupe(*roles), nil
}

// ---- lookups and role checks (all under s.mu) ----------------------------------

type need int

const (
	needOrgMember need = iota
	needOrgOwner
	needGroupReadOnly
	needGroupAccessManager
	needGroupOwner
)

func (s *Server) orgFor(c *call, need need) (*org, *apiErr) {
	id := c.seg[1]
	if !hex24.MatchString(id) {
		return nil, badID("organization", "INVALID_ORG_ID", id)
	}
	o := s.st.orgs[id]
	if o == nil {
		return nil, newErr(http.StatusNotFound, "ORG_NOT_FOUND", fmt.Sprintf("No organization with ID %s exists.", id), id)
	}
	if c.p.orgID() != id {
		return nil, s.roleErr()
	}
	roles := c.p.orgRoles()
	switch need {
	case needOrgOwner:
		if !slices.Contains(roles, "ORG_OWNER") {
			return nil, s.roleErr()
		}
	default:
		if len(roles) == 0 {
			return nil, s.roleErr()
		}
	}
	return o, nil
}

func (s *Server) groupFor(c *call, need need) (*project, *apiErr) {
	id := c.seg[1]
	if !hex24.MatchString(id) {
		return nil, badID("group", "INVALID_GROUP_ID", id)
	}
	p := s.st.projects[id]
	if p == nil {
		return nil, newErr(http.StatusNotFound, "GROUP_NOT_FOUND", fmt.Sprintf("No group with ID %s exists.", id), id)
	}
	if c.p.orgID() != p.orgID {
		return nil, s.roleErr()
	}
	org, grp := c.p.orgRoles(), c.p.groupRoles(id)
	if slices.Contains(org, "ORG_OWNER") {
		return p, nil
	}
	ok := false
	switch need {
	case needGroupReadOnly:
		ok = slices.Contains(org, "ORG_READ_ONLY") || len(grp) > 0
	case needGroupAccessManager, needGroupOwner:
		ok = slices.Contains(grp, "GROUP_OWNER")
	}
	if !ok {
		return nil, s.roleErr()
	}
	return p, nil
}

func (s *Server) keyIn(orgID, id string) (*apiKey, *apiErr) {
	if !hex24.MatchString(id) {
		return nil, badID("API key", "INVALID_API_KEY_ID", id)
	}
	k := s.st.keys[id]
	if k == nil || k.orgID != orgID {
		return nil, newErr(http.StatusNotFound, "API_KEY_NOT_FOUND", fmt.Sprintf("No API key with ID %s exists.", id), id)
	}
	return k, nil
}

// ---- rendering -----------------------------------------------------------------

func (c *call) keyJSON(k *apiKey, reveal bool) wireKey {
	pk := redact(k.privateKey)
	if reveal {
		pk = k.privateKey
	}
	return wireKey{
		Desc:       k.desc,
		ID:         k.id,
		Links:      []wireLink{{Href: c.base + apiPrefix + "/orgs/" + k.orgID + "/apiKeys/" + k.id, Rel: "self"}},
		PrivateKey: pk,
		PublicKey:  k.publicKey,
		Roles:      rolesOf(k),
	}
}

func (c *call) entryJSON(k *apiKey, e *accessEntry) wireEntry {
	w := wireEntry{
		CIDRBlock: e.key(),
		Count:     e.count,
		Created:   e.created.Format(time.RFC3339),
		IPAddress: e.ipAddress(),
		Links: []wireLink{{
			Href: c.base + apiPrefix + "/orgs/" + k.orgID + "/apiKeys/" + k.id + "/accessList/" + url.PathEscape(e.key()),
			Rel:  "self",
		}},
		LastUsedAddress: e.lastUsedAddress,
	}
	if !e.lastUsed.IsZero() {
		w.LastUsed = e.lastUsed.Format(time.RFC3339)
	}
	return w
}

type paging struct {
	pageNum, items int
	includeCount   bool
}

func queryErr(name, v string) *apiErr {
	return newErr(http.StatusBadRequest, "INVALID_QUERY_PARAMETER",
		fmt.Sprintf("Invalid value %q for query parameter %s.", v, name), name, v)
}

func (c *call) paging() (paging, *apiErr) {
	pg := paging{pageNum: 1, items: 100, includeCount: true}
	if v := c.q.Get("pageNum"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return pg, queryErr("pageNum", v)
		}
		pg.pageNum = n
	}
	if v := c.q.Get("itemsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return pg, queryErr("itemsPerPage", v)
		}
		pg.items = n
	}
	if v := c.q.Get("includeCount"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return pg, queryErr("includeCount", v)
		}
		pg.includeCount = b
	}
	return pg, nil
}

func (c *call) link(rel string, pageNum, items int) wireLink {
	q := url.Values{}
	for k, v := range c.q {
		q[k] = slices.Clone(v)
	}
	q.Set("pageNum", strconv.Itoa(pageNum))
	q.Set("itemsPerPage", strconv.Itoa(items))
	return wireLink{Href: c.base + c.rawPath + "?" + q.Encode(), Rel: rel}
}

func page[T any](c *call, pg paging, all []T) wirePage[T] {
	start := min((pg.pageNum-1)*pg.items, len(all))
	end := min(start+pg.items, len(all))
	out := wirePage[T]{Results: slices.Clone(all[start:end]), Links: []wireLink{c.link("self", pg.pageNum, pg.items)}}
	if out.Results == nil {
		out.Results = []T{}
	}
	if pg.pageNum > 1 {
		out.Links = append(out.Links, c.link("previous", pg.pageNum-1, pg.items))
	}
	if end < len(all) {
		out.Links = append(out.Links, c.link("next", pg.pageNum+1, pg.items))
	}
	if pg.includeCount {
		n := len(all)
		out.TotalCount = &n
	}
	return out
}

// ---- organization API keys ------------------------------------------------------

func (s *Server) listOrgKeys(c *call) (int, any, *apiErr) {
	o, err := s.orgFor(c, needOrgMember)
	if err != nil {
		return 0, nil, err
	}
	pg, err := c.paging()
	if err != nil {
		return 0, nil, err
	}
	all := make([]wireKey, 0, len(o.keys))
	for _, id := range o.keys {
		all = append(all, c.keyJSON(s.st.keys[id], false))
	}
	return http.StatusOK, page(c, pg, all), nil
}

func (s *Server) createOrgKey(c *call) (int, any, *apiErr) {
	o, err := s.orgFor(c, needOrgOwner)
	if err != nil {
		return 0, nil, err
	}
	desc, roles, err := keyBody(c, true, isOrgRole)
	if err != nil {
		return 0, nil, err
	}
	k := s.createKeyLocked(o.id, *desc, roles)
	return http.StatusOK, c.keyJSON(k, true), nil
}

func (s *Server) getOrgKey(c *call) (int, any, *apiErr) {
	o, err := s.orgFor(c, needOrgMember)
	if err != nil {
		return 0, nil, err
	}
	k, err := s.keyIn(o.id, c.seg[3])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, c.keyJSON(k, false), nil
}

func (s *Server) updateOrgKey(c *call) (int, any, *apiErr) {
	o, err := s.orgFor(c, needOrgOwner)
	if err != nil {
		return 0, nil, err
	}
	k, err := s.keyIn(o.id, c.seg[3])
	if err != nil {
		return 0, nil, err
	}
	desc, roles, err := keyBody(c, false, isOrgRole)
	if err != nil {
		return 0, nil, err
	}
	if desc != nil {
		k.desc = *desc
	}
	if roles != nil {
		k.orgRoles = roles
	}
	return http.StatusOK, c.keyJSON(k, false), nil
}

func (s *Server) deleteOrgKey(c *call) (int, any, *apiErr) {
	o, err := s.orgFor(c, needOrgOwner)
	if err != nil {
		return 0, nil, err
	}
	k, err := s.keyIn(o.id, c.seg[3])
	if err != nil {
		return 0, nil, err
	}
	s.deleteKeyLocked(k)
	return http.StatusNoContent, nil, nil
}

// ---- access lists ---------------------------------------------------------------

func (s *Server) accessKey(c *call, need need) (*apiKey, *apiErr) {
	o, err := s.orgFor(c, need)
	if err != nil {
		return nil, err
	}
	return s.keyIn(o.id, c.seg[3])
}

func (s *Server) accessPage(c *call, k *apiKey) (int, any, *apiErr) {
	pg, err := c.paging()
	if err != nil {
		return 0, nil, err
	}
	all := make([]wireEntry, 0, len(k.access))
	for _, e := range k.access {
		all = append(all, c.entryJSON(k, e))
	}
	return http.StatusOK, page(c, pg, all), nil
}

func (s *Server) listAccess(c *call) (int, any, *apiErr) {
	k, err := s.accessKey(c, needOrgMember)
	if err != nil {
		return 0, nil, err
	}
	return s.accessPage(c, k)
}

func badAddress(v string) *apiErr {
	return newErr(http.StatusBadRequest, "INVALID_IP_ADDRESS_OR_CIDR_NOTATION",
		fmt.Sprintf("The address %s must be in valid IP address or CIDR notation.", v), v)
}

func (s *Server) createAccess(c *call) (int, any, *apiErr) {
	k, err := s.accessKey(c, needOrgOwner)
	if err != nil {
		return 0, nil, err
	}
	var body []wireAccessReq
	if err := decode(c.body, &body); err != nil {
		return 0, nil, err
	}
	if _, err := c.paging(); err != nil {
		return 0, nil, err
	}
	var add []*accessEntry
	seen := map[string]bool{}
	for _, item := range body {
		if (item.IPAddress == nil) == (item.CIDRBlock == nil) {
			return 0, nil, newErr(http.StatusBadRequest, "INVALID_ATTRIBUTE",
				"Each access list entry must specify exactly one of ipAddress or cidrBlock.", "ipAddress", "cidrBlock")
		}
		v, asCIDR := "", false
		if item.CIDRBlock != nil {
			v, asCIDR = *item.CIDRBlock, true
		} else {
			v = *item.IPAddress
		}
		e, perr := parseEntry(v, asCIDR)
		if perr != nil {
			return 0, nil, badAddress(v)
		}
		if seen[e.key()] || k.findEntry(e.key()) != nil {
			return 0, nil, newErr(http.StatusConflict, "ADDRESS_ALREADY_IN_ACCESS_LIST",
				fmt.Sprintf("The address %s is already on the access list.", v), v)
		}
		seen[e.key()] = true
		add = append(add, e)
	}
	now := s.cfg.now().UTC()
	for _, e := range add {
		e.created = now
		k.access = append(k.access, e)
	}
	return s.accessPage(c, k)
}

// pathEntry finds the entry named by the {ipAddress} path segment (already
// unescaped once: "10.0.0.0/24" or "203.0.113.10").
func (s *Server) pathEntry(c *call, k *apiKey) (*accessEntry, *apiErr) {
	v := c.seg[5]
	e, err := parseEntry(v, strings.Contains(v, "/"))
	if err != nil {
		return nil, badAddress(v)
	}
	found := k.findEntry(e.key())
	if found == nil {
		return nil, newErr(http.StatusNotFound, "API_KEY_ACCESS_LIST_ENTRY_NOT_FOUND",
			fmt.Sprintf("IP address %s is not on the access list of API key %s.", v, k.id), v, k.id)
	}
	return found, nil
}

func (s *Server) getAccess(c *call) (int, any, *apiErr) {
	k, err := s.accessKey(c, needOrgMember)
	if err != nil {
		return 0, nil, err
	}
	e, err := s.pathEntry(c, k)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, c.entryJSON(k, e), nil
}

func (s *Server) deleteAccess(c *call) (int, any, *apiErr) {
	k, err := s.accessKey(c, needOrgOwner)
	if err != nil {
		return 0, nil, err
	}
	e, err := s.pathEntry(c, k)
	if err != nil {
		return 0, nil, err
	}
	// The spec: you cannot remove the requesting IP address from the
	// requesting API key.
	if c.p.key == k {
		if host, _, herr := net.SplitHostPort(c.r.RemoteAddr); herr == nil {
			if a, aerr := netip.ParseAddr(host); aerr == nil && e.prefix.Contains(a.Unmap()) {
				return 0, nil, newErr(http.StatusBadRequest, "CANNOT_REMOVE_CALLER_ACCESS_LIST_ENTRY",
					"You cannot remove the requesting IP address from the requesting API key.", c.seg[5])
			}
		}
	}
	k.access = slices.DeleteFunc(k.access, func(x *accessEntry) bool { return x == e })
	return http.StatusNoContent, nil, nil
}

// ---- project assignments --------------------------------------------------------

func (s *Server) listGroupKeys(c *call) (int, any, *apiErr) {
	p, err := s.groupFor(c, needGroupReadOnly)
	if err != nil {
		return 0, nil, err
	}
	pg, err := c.paging()
	if err != nil {
		return 0, nil, err
	}
	all := []wireKey{}
	for _, id := range s.st.orgs[p.orgID].keys {
		k := s.st.keys[id]
		if _, ok := k.groupRoles[p.id]; ok {
			all = append(all, c.keyJSON(k, false))
		}
	}
	return http.StatusOK, page(c, pg, all), nil
}

func (s *Server) createGroupKey(c *call) (int, any, *apiErr) {
	p, err := s.groupFor(c, needGroupAccessManager)
	if err != nil {
		return 0, nil, err
	}
	desc, roles, err := keyBody(c, true, isGroupRole)
	if err != nil {
		return 0, nil, err
	}
	k := s.createKeyLocked(p.orgID, *desc, []string{"ORG_MEMBER"})
	k.assign(p.id, roles)
	return http.StatusOK, c.keyJSON(k, true), nil
}

func (s *Server) addGroupKey(c *call) (int, any, *apiErr) {
	p, err := s.groupFor(c, needGroupOwner)
	if err != nil {
		return 0, nil, err
	}
	k, err := s.keyIn(p.orgID, c.seg[3])
	if err != nil {
		return 0, nil, err
	}
	var body []wireAssign
	if err := decode(c.body, &body); err != nil {
		return 0, nil, err
	}
	var roles []string
	for _, item := range body {
		roles = append(roles, item.Roles...)
	}
	if len(roles) == 0 {
		return 0, nil, missing("roles")
	}
	for _, r := range roles {
		if !isGroupRole(r) {
			return 0, nil, invalidEnum(r)
		}
	}
	k.assign(p.id, roles)
	return http.StatusNoContent, nil, nil
}

func notAssigned(k *apiKey, groupID string) *apiErr {
	return newErr(http.StatusNotFound, "API_KEY_NOT_ASSIGNED_TO_GROUP",
		fmt.Sprintf("API key %s is not assigned to group %s.", k.id, groupID), k.id, groupID)
}

func (s *Server) updateGroupKey(c *call) (int, any, *apiErr) {
	p, err := s.groupFor(c, needGroupAccessManager)
	if err != nil {
		return 0, nil, err
	}
	k, err := s.keyIn(p.orgID, c.seg[3])
	if err != nil {
		return 0, nil, err
	}
	if _, ok := k.groupRoles[p.id]; !ok {
		return 0, nil, notAssigned(k, p.id)
	}
	desc, roles, err := keyBody(c, false, isGroupRole)
	if err != nil {
		return 0, nil, err
	}
	if _, err := c.paging(); err != nil {
		return 0, nil, err
	}
	if desc != nil {
		k.desc = *desc
	}
	if roles != nil {
		k.assign(p.id, roles)
	}
	return http.StatusOK, c.keyJSON(k, false), nil
}

func (s *Server) removeGroupKey(c *call) (int, any, *apiErr) {
	p, err := s.groupFor(c, needGroupAccessManager)
	if err != nil {
		return 0, nil, err
	}
	k, err := s.keyIn(p.orgID, c.seg[3])
	if err != nil {
		return 0, nil, err
	}
	if _, ok := k.groupRoles[p.id]; !ok {
		return 0, nil, notAssigned(k, p.id)
	}
	k.unassign(p.id)
	return http.StatusNoContent, nil, nil
}
