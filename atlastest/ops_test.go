package atlastest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrgKeyLifecycle(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()

	r := c.post(orgKeys(org), createBody("ci deployer", "ORG_MEMBER", "ORG_READ_ONLY"))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, vendorMediaType, r.header.Get("Content-Type"))
	created := r.json(t)
	id := created["id"].(string)
	assert.Regexp(t, `^[a-f0-9]{24}$`, id)
	assert.Regexp(t, `^[a-z0-9]{8}$`, created["publicKey"])
	priv := created["privateKey"].(string)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, priv)
	assert.Equal(t, "ci deployer", created["desc"])
	assert.ElementsMatch(t, []any{
		map[string]any{"orgId": org, "roleName": "ORG_MEMBER"},
		map[string]any{"orgId": org, "roleName": "ORG_READ_ONLY"},
	}, created["roles"])
	links := created["links"].([]any)
	assert.Equal(t, srv.URL+orgKey(org, id), field(links[0], "href"))

	// Redacted everywhere else.
	r = c.get(orgKey(org, id))
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "********-****-****-"+priv[len(priv)-12:], r.json(t)["privateKey"])

	r = c.patch(orgKey(org, id), map[string]any{"desc": "renamed"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "renamed", r.json(t)["desc"])
	assert.NotEqual(t, priv, r.json(t)["privateKey"])

	r = c.patch(orgKey(org, id), map[string]any{"roles": []string{"ORG_OWNER"}})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, []any{map[string]any{"orgId": org, "roleName": "ORG_OWNER"}}, r.json(t)["roles"])

	r = c.get(orgKeys(org))
	require.Equal(t, http.StatusOK, r.status)
	assert.Len(t, results(t, r), 2) // admin + new
	assert.EqualValues(t, 2, r.json(t)["totalCount"])
	for _, k := range results(t, r) {
		assert.True(t, strings.HasPrefix(field(k, "privateKey"), "********-****-****-"))
	}

	r = c.del(orgKey(org, id))
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.body)
	r = c.get(orgKey(org, id))
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "API_KEY_NOT_FOUND", r.errorCode(t))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
}

func TestNewKeyCanAuthenticate(t *testing.T) {
	srv, c := newServer(t)
	r := c.post(orgKeys(srv.OrgID()), createBody("member", "ORG_MEMBER"))
	require.Equal(t, http.StatusOK, r.status)
	k := r.json(t)
	kc := keyClient(t, srv, k["publicKey"].(string), k["privateKey"].(string))
	assert.Equal(t, http.StatusOK, kc.get(orgKeys(srv.OrgID())).status)
	// A member cannot create keys.
	r = kc.post(orgKeys(srv.OrgID()), createBody("x", "ORG_MEMBER"))
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "USER_UNAUTHORIZED", r.errorCode(t))
	// Deleted key no longer authenticates.
	require.Equal(t, http.StatusNoContent, c.del(orgKey(srv.OrgID(), k["id"].(string))).status)
	assert.Equal(t, http.StatusUnauthorized, kc.get(orgKeys(srv.OrgID())).status)
}

func TestErrorBodiesAndValidation(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	other := srv.AddOrg("other")
	missingID := strings.Repeat("0", 24)
	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"bad org id", "GET", orgKeys("nothex"), nil, 400, "INVALID_ORG_ID"},
		{"public key as org id", "GET", orgKeys("abcdefgh"), nil, 400, "INVALID_ORG_ID"},
		{"unknown org", "GET", orgKeys(missingID), nil, 404, "ORG_NOT_FOUND"},
		{"other org", "GET", orgKeys(other), nil, 403, "USER_UNAUTHORIZED"},
		{"bad key id", "GET", orgKey(org, "XYZ"), nil, 400, "INVALID_API_KEY_ID"},
		{"unknown key", "GET", orgKey(org, missingID), nil, 404, "API_KEY_NOT_FOUND"},
		{"bad group id", "GET", groupKeys("zz"), nil, 400, "INVALID_GROUP_ID"},
		{"unknown group", "GET", groupKeys(missingID), nil, 404, "GROUP_NOT_FOUND"},
		{"unknown route", "GET", "/api/atlas/v2/orgs/" + org + "/nope", nil, 404, "RESOURCE_NOT_FOUND"},
		{"method", "PUT", orgKeys(org), nil, 405, "METHOD_NOT_ALLOWED"},
		{"missing desc", "POST", orgKeys(org), map[string]any{"roles": []string{"ORG_MEMBER"}}, 400, "MISSING_ATTRIBUTE"},
		{"missing roles", "POST", orgKeys(org), map[string]any{"desc": "d"}, 400, "MISSING_ATTRIBUTE"},
		{"empty roles", "POST", orgKeys(org), map[string]any{"desc": "d", "roles": []string{}}, 400, "INVALID_ATTRIBUTE"},
		{"group role on org key", "POST", orgKeys(org), createBody("d", "GROUP_OWNER"), 400, "INVALID_ENUM_VALUE"},
		{"desc too long", "POST", orgKeys(org), createBody(strings.Repeat("x", 251), "ORG_MEMBER"), 400, "INVALID_ATTRIBUTE"},
		{"empty desc", "POST", orgKeys(org), createBody("", "ORG_MEMBER"), 400, "INVALID_ATTRIBUTE"},
		{"unknown field", "POST", orgKeys(org), map[string]any{"desc": "d", "roles": []string{"ORG_MEMBER"}, "role": "x"}, 400, "INVALID_JSON_ATTRIBUTE"},
		{"wrong type", "POST", orgKeys(org), map[string]any{"desc": 5, "roles": []string{"ORG_MEMBER"}}, 400, "INVALID_JSON_ATTRIBUTE"},
		{"malformed json", "POST", orgKeys(org), "{", 400, "INVALID_JSON"},
		{"empty update", "PATCH", orgKey(org, srv.AdminKeyID()), map[string]any{}, 400, "MISSING_ATTRIBUTE"},
		{"itemsPerPage 0", "GET", orgKeys(org) + "?itemsPerPage=0", nil, 400, "INVALID_QUERY_PARAMETER"},
		{"itemsPerPage 501", "GET", orgKeys(org) + "?itemsPerPage=501", nil, 400, "INVALID_QUERY_PARAMETER"},
		{"pageNum 0", "GET", orgKeys(org) + "?pageNum=0", nil, 400, "INVALID_QUERY_PARAMETER"},
		{"includeCount junk", "GET", orgKeys(org) + "?includeCount=maybe", nil, 400, "INVALID_QUERY_PARAMETER"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, r.status, string(r.body))
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			m := r.json(t)
			assert.Equal(t, tc.code, m["errorCode"])
			assert.EqualValues(t, tc.status, m["error"])
			assert.Equal(t, http.StatusText(tc.status), m["reason"])
			assert.NotEmpty(t, m["detail"])
			assert.IsType(t, []any{}, m["parameters"])
		})
	}
}

func TestPagination(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	var ids []string
	ids = append(ids, srv.AdminKeyID())
	for i := range 6 {
		ids = append(ids, srv.AddAPIKey(org, fmt.Sprintf("k%d", i)).ID)
	}
	var got []string
	next := orgKeys(org) + "?itemsPerPage=3"
	pages := 0
	for next != "" {
		r := c.get(next)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		m := r.json(t)
		assert.EqualValues(t, 7, m["totalCount"])
		rels := map[string]string{}
		for _, l := range m["links"].([]any) {
			rels[field(l, "rel")] = field(l, "href")
			assert.True(t, strings.HasPrefix(field(l, "href"), srv.URL+"/api/atlas/v2/"), field(l, "href"))
		}
		assert.Contains(t, rels, "self")
		if pages > 0 {
			assert.Contains(t, rels, "previous")
		} else {
			assert.NotContains(t, rels, "previous")
		}
		for _, k := range m["results"].([]any) {
			got = append(got, field(k, "id"))
		}
		next = strings.TrimPrefix(rels["next"], srv.URL)
		pages++
	}
	assert.Equal(t, 3, pages)
	assert.Equal(t, ids, got, "creation order")

	r := c.get(orgKeys(org) + "?includeCount=false&pageNum=9")
	require.Equal(t, http.StatusOK, r.status)
	m := r.json(t)
	assert.NotContains(t, m, "totalCount")
	assert.Equal(t, []any{}, m["results"])

	// pretty and envelope.
	r = c.get(orgKeys(org) + "?pretty=true&itemsPerPage=1")
	assert.Contains(t, string(r.body), "\n  ")
	r = c.get(orgKey(org, strings.Repeat("0", 24)) + "?envelope=true")
	assert.Equal(t, http.StatusOK, r.status)
	assert.EqualValues(t, 404, r.json(t)["status"])
}

func TestAccessList(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	k := srv.AddAPIKey(org, "worker")
	al := accessList(org, k.ID)

	r := c.post(al, []map[string]string{{"ipAddress": "203.0.113.10"}, {"cidrBlock": "10.0.0.0/24"}, {"ipAddress": "2001:db8::1"}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m := r.json(t)
	assert.EqualValues(t, 3, m["totalCount"])
	res := m["results"].([]any)
	assert.Equal(t, "203.0.113.10", field(res[0], "ipAddress"))
	assert.Equal(t, "203.0.113.10/32", field(res[0], "cidrBlock"))
	assert.Equal(t, "10.0.0.0/24", field(res[1], "cidrBlock"))
	assert.NotContains(t, res[1], "ipAddress")
	assert.Equal(t, "2001:db8::1/128", field(res[2], "cidrBlock"))
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, field(res[0], "created"))
	assert.Equal(t, srv.URL+al+"/10.0.0.0%2F24", field(res[1].(map[string]any)["links"].([]any)[0], "href"))

	// Escaped path segment.
	r = c.get(al + "/10.0.0.0%2F24")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "10.0.0.0/24", r.json(t)["cidrBlock"])
	r = c.get(al + "/10.0.0.0%2f24")
	assert.Equal(t, http.StatusOK, r.status)
	r = c.get(al + "/203.0.113.10")
	assert.Equal(t, http.StatusOK, r.status)
	// A literal slash is a different path.
	r = c.get(al + "/10.0.0.0/24")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "RESOURCE_NOT_FOUND", r.errorCode(t))
	// Double-escaped is not an address.
	r = c.get(al + "/10.0.0.0%252F24")
	assert.Equal(t, http.StatusBadRequest, r.status)

	r = c.get(al + "/192.0.2.1")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "API_KEY_ACCESS_LIST_ENTRY_NOT_FOUND", r.errorCode(t))

	for name, body := range map[string]any{
		"both":       []map[string]string{{"ipAddress": "1.2.3.4", "cidrBlock": "1.2.3.0/24"}},
		"neither":    []map[string]string{{}},
		"bad ip":     []map[string]string{{"ipAddress": "1.2.3"}},
		"cidr as ip": []map[string]string{{"ipAddress": "1.2.3.0/24"}},
		"bad cidr":   []map[string]string{{"cidrBlock": "1.2.3.0/99"}},
		"not array":  map[string]string{"ipAddress": "1.2.3.4"},
	} {
		r = c.post(al, body)
		assert.Equal(t, http.StatusBadRequest, r.status, name)
	}
	r = c.post(al, []map[string]string{{"ipAddress": "198.51.100.1"}, {"ipAddress": "203.0.113.10"}})
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "ADDRESS_ALREADY_IN_ACCESS_LIST", r.errorCode(t))
	assert.Len(t, srv.Snapshot().Orgs[0].APIKeys[1].AccessList, 3, "a refused batch adds nothing")

	r = c.del(al + "/10.0.0.0%2F24")
	assert.Equal(t, http.StatusNoContent, r.status)
	r = c.del(al + "/10.0.0.0%2F24")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, []string{"2001:db8::1/128", "203.0.113.10/32"}, srv.Snapshot().Orgs[0].APIKeys[1].AccessList)
}

func TestAccessListUsageAndSelfRemoval(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	require.NoError(t, srv.AddAccessListEntry(org, srv.AdminKeyID(), "127.0.0.1"))
	snap := srv.Snapshot()
	c.get(orgKeys(org))
	c.get(orgKeys(org))
	r := c.get(accessList(org, srv.AdminKeyID()) + "/127.0.0.1")
	require.Equal(t, http.StatusOK, r.status)
	m := r.json(t)
	assert.GreaterOrEqual(t, m["count"], float64(2))
	assert.Equal(t, "127.0.0.1", m["lastUsedAddress"])
	assert.NotEmpty(t, m["lastUsed"])
	assert.Equal(t, snap, srv.Snapshot(), "usage counters are not in snapshots")

	r = c.del(accessList(org, srv.AdminKeyID()) + "/127.0.0.1")
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "CANNOT_REMOVE_CALLER_ACCESS_LIST_ENTRY", r.errorCode(t))
}

func TestProjectAssignments(t *testing.T) {
	srv, c := newServer(t)
	org, grp := srv.OrgID(), srv.ProjectID()
	k := srv.AddAPIKey(org, "svc")

	r := c.get(groupKeys(grp))
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, results(t, r))

	r = c.post(groupKey(grp, k.ID), []map[string]any{{"roles": []string{"GROUP_READ_ONLY"}}})
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	r = c.get(orgKey(org, k.ID))
	assert.Contains(t, r.json(t)["roles"], map[string]any{"groupId": grp, "roleName": "GROUP_READ_ONLY"})

	r = c.patch(groupKey(grp, k.ID)+"?pageNum=1", map[string]any{"roles": []string{"GROUP_OWNER", "GROUP_CLUSTER_MANAGER"}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	roles := r.json(t)["roles"].([]any)
	assert.NotContains(t, roles, map[string]any{"groupId": grp, "roleName": "GROUP_READ_ONLY"}, "replaced")
	assert.Contains(t, roles, map[string]any{"groupId": grp, "roleName": "GROUP_OWNER"})
	assert.Contains(t, roles, map[string]any{"groupId": grp, "roleName": "GROUP_CLUSTER_MANAGER"})

	r = c.get(groupKeys(grp))
	require.Len(t, results(t, r), 1)
	assert.Equal(t, k.ID, field(results(t, r)[0], "id"))

	r = c.patch(groupKey(grp, k.ID), map[string]any{"roles": []string{"ORG_OWNER"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = c.post(groupKey(grp, k.ID), []map[string]any{{"roles": []string{}}})
	assert.Equal(t, http.StatusBadRequest, r.status)

	r = c.del(groupKey(grp, k.ID))
	require.Equal(t, http.StatusNoContent, r.status)
	r = c.get(orgKey(org, k.ID))
	assert.Equal(t, []any{map[string]any{"orgId": org, "roleName": "ORG_MEMBER"}}, r.json(t)["roles"])
	r = c.del(groupKey(grp, k.ID))
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "API_KEY_NOT_ASSIGNED_TO_GROUP", r.errorCode(t))

	// A key of another organization is not found through this project.
	other := srv.AddOrg("o2")
	ok := srv.AddAPIKey(other, "foreign")
	r = c.post(groupKey(grp, ok.ID), []map[string]any{{"roles": []string{"GROUP_OWNER"}}})
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestCreateGroupKeyAndDeleteCascade(t *testing.T) {
	srv, c := newServer(t)
	org, grp := srv.OrgID(), srv.ProjectID()
	r := c.post(groupKeys(grp), createBody("project key", "GROUP_OWNER"))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m := r.json(t)
	id := m["id"].(string)
	assert.NotContains(t, m["privateKey"], "*")
	assert.ElementsMatch(t, []any{
		map[string]any{"orgId": org, "roleName": "ORG_MEMBER"},
		map[string]any{"groupId": grp, "roleName": "GROUP_OWNER"},
	}, m["roles"])

	// The project key, as GROUP_OWNER, may list and assign in its project.
	pc := keyClient(t, srv, m["publicKey"].(string), m["privateKey"].(string))
	assert.Equal(t, http.StatusOK, pc.get(groupKeys(grp)).status)
	assert.Equal(t, http.StatusForbidden, pc.post(orgKeys(org), createBody("x", "ORG_MEMBER")).status)

	require.NoError(t, srv.AddAccessListEntry(org, id, "10.1.0.0/16"))
	g2 := srv.AddProject(org, "second")
	require.NoError(t, srv.AssignAPIKey(g2, id, "GROUP_READ_ONLY"))

	require.Equal(t, http.StatusNoContent, c.del(orgKey(org, id)).status)
	assert.Empty(t, results(t, c.get(groupKeys(grp))))
	assert.Empty(t, results(t, c.get(groupKeys(g2))))
	assert.Equal(t, http.StatusNotFound, c.get(accessList(org, id)).status)
	for _, k := range srv.Snapshot().Orgs[0].APIKeys {
		assert.NotEqual(t, id, k.ID)
	}
}

func TestRoleChecks(t *testing.T) {
	srv, admin := newServer(t)
	org, grp := srv.OrgID(), srv.ProjectID()
	target := srv.AddAPIKey(org, "target")
	member := srv.AddAPIKey(org, "member", "ORG_MEMBER")
	readOnly := srv.AddAPIKey(org, "ro", "ORG_READ_ONLY")
	groupRO := srv.AddAPIKey(org, "gro", "ORG_MEMBER")
	require.NoError(t, srv.AssignAPIKey(grp, groupRO.ID, "GROUP_READ_ONLY"))
	require.NoError(t, srv.AssignAPIKey(grp, target.ID, "GROUP_READ_ONLY"))

	type check struct {
		method, path string
		body         any
	}
	owner := []check{
		{"POST", orgKeys(org), createBody("d", "ORG_MEMBER")},
		{"PATCH", orgKey(org, target.ID), map[string]any{"desc": "x"}},
		{"DELETE", orgKey(org, target.ID), nil},
		{"POST", accessList(org, target.ID), []map[string]string{{"ipAddress": "1.1.1.1"}}},
		{"POST", groupKeys(grp), createBody("d", "GROUP_OWNER")},
		{"POST", groupKey(grp, target.ID), []map[string]any{{"roles": []string{"GROUP_OWNER"}}}},
		{"PATCH", groupKey(grp, target.ID), map[string]any{"desc": "x"}},
		{"DELETE", groupKey(grp, target.ID), nil},
	}
	memberOK := []check{{"GET", orgKeys(org), nil}, {"GET", orgKey(org, target.ID), nil}, {"GET", accessList(org, target.ID), nil}}
	for _, k := range []Key{member, readOnly, groupRO} {
		kc := keyClient(t, srv, k.PublicKey, k.PrivateKey)
		for _, ch := range owner {
			r := kc.do(ch.method, ch.path, ch.body)
			assert.Equal(t, http.StatusForbidden, r.status, "%s %s by %s", ch.method, ch.path, k.ID)
		}
		for _, ch := range memberOK {
			assert.Equal(t, http.StatusOK, kc.do(ch.method, ch.path, nil).status)
		}
	}
	// Project Read Only: group role or ORG_READ_ONLY, not a plain member.
	assert.Equal(t, http.StatusForbidden, keyClient(t, srv, member.PublicKey, member.PrivateKey).get(groupKeys(grp)).status)
	assert.Equal(t, http.StatusOK, keyClient(t, srv, readOnly.PublicKey, readOnly.PrivateKey).get(groupKeys(grp)).status)
	assert.Equal(t, http.StatusOK, keyClient(t, srv, groupRO.PublicKey, groupRO.PrivateKey).get(groupKeys(grp)).status)
	// The admin can do all of it.
	for _, ch := range owner {
		if ch.method == "DELETE" {
			continue
		}
		r := admin.do(ch.method, ch.path, ch.body)
		assert.Less(t, r.status, 300, "%s %s: %s", ch.method, ch.path, r.body)
	}
}

func TestRoleErrorStatusOption(t *testing.T) {
	srv, _ := newServer(t, WithRoleErrorStatus(http.StatusUnauthorized))
	m := srv.AddAPIKey(srv.OrgID(), "m")
	r := keyClient(t, srv, m.PublicKey, m.PrivateKey).post(orgKeys(srv.OrgID()), createBody("d", "ORG_MEMBER"))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "USER_UNAUTHORIZED", r.errorCode(t))
	assert.Empty(t, r.header.Get("WWW-Authenticate"))
}

func TestSnapshotAndSeed(t *testing.T) {
	a := NewServer(WithSeed(42))
	defer a.Close()
	b := NewServer(WithSeed(42))
	defer b.Close()
	assert.Equal(t, a.Snapshot(), b.Snapshot())
	pa, sa := a.AdminKey()
	pb, sb := b.AdminKey()
	assert.Equal(t, pa, pb)
	assert.Equal(t, sa, sb)
	assert.Regexp(t, regexp.MustCompile(`^[a-f0-9]{24}$`), a.OrgID())

	_, c := newServer(t)
	s1 := c.srv.Snapshot()
	c.get(orgKeys(c.srv.OrgID()))
	assert.Equal(t, s1, c.srv.Snapshot())
	require.Len(t, s1.Orgs, 1)
	assert.Equal(t, []RoleSnapshot{{OrgID: c.srv.OrgID(), RoleName: "ORG_OWNER"}}, s1.Orgs[0].APIKeys[0].Roles)
}
