package atlaskeys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const privateKey = "55c3bbb6-b4bb-0be1-e66d20841f3e"

func TestSecret_NeverRendered(t *testing.T) {
	t.Parallel()
	s := Secret(privateKey)
	key := APIKey{ID: keyID, Desc: "ci", PublicKey: "zmmrboas", PrivateKey: s}
	values := map[string]any{
		"Secret":   s,
		"*Secret":  &s,
		"APIKey":   key,
		"*APIKey":  &key,
		"[]APIKey": []APIKey{key, key},
		"[]Secret": []Secret{s},
		"map":      map[string]Secret{"k": s},
		"Page":     Page[APIKey]{Results: []APIKey{key}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-v"}
	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, privateKey, "%s with %s", name, verb)
			assert.NotContains(t, out, fmt.Sprintf("%x", privateKey), "%s with %s (hex)", name, verb)
		}
		b, err := json.Marshal(v)
		require.NoError(t, err)
		assert.NotContains(t, string(b), privateKey, "json %s", name)
	}

	assert.Equal(t, "[REDACTED]", fmt.Sprint(s))
	assert.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%q", s))
	assert.Equal(t, `atlaskeys.Secret("[REDACTED]")`, fmt.Sprintf("%#v", s))
	assert.Contains(t, fmt.Sprintf("%+v", key), "PrivateKey:[REDACTED]")
	assert.Equal(t, privateKey, s.Reveal())
	assert.Equal(t, privateKey, key.PrivateKey.Reveal())
	assert.False(t, s.IsZero())
	assert.True(t, Secret("").IsZero())

	b, err := json.Marshal(key)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"32b6e34b3d91647abb20e7b8","desc":"ci","publicKey":"zmmrboas","privateKey":"[REDACTED]"}`, string(b))
	txt, err := s.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "[REDACTED]", string(txt))
}

func TestSecret_Slog(t *testing.T) {
	t.Parallel()
	s := Secret(privateKey)
	key := APIKey{ID: keyID, PublicKey: "zmmrboas", PrivateKey: s}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	}
	for name, h := range handlers {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("created", "key", key, "keyPtr", &key, "keys", []APIKey{key}, "secret", s)
		log.Info("attrs", slog.Any("key", key), slog.String("pub", key.PublicKey), slog.Any("secret", s))
		log.With("secret", s).Info("with")
		out := buf.String()
		assert.NotContains(t, out, privateKey, name)
		assert.Contains(t, out, "[REDACTED]", name)
		assert.Contains(t, out, "zmmrboas", name, "the rest of the key is still logged")
	}
}

func TestSecret_UnmarshalJSON(t *testing.T) {
	t.Parallel()
	var k APIKey
	require.NoError(t, json.Unmarshal([]byte(createdKeyJSON), &k))
	assert.Equal(t, privateKey, k.PrivateKey.Reveal())

	var s Secret
	assert.Error(t, json.Unmarshal([]byte(`42`), &s))
	require.NoError(t, json.Unmarshal([]byte(`null`), &s))
	assert.True(t, s.IsZero())
}

func TestAPIKey_Roles(t *testing.T) {
	t.Parallel()
	k := APIKey{Roles: []RoleAssignment{
		{OrgID: orgID, RoleName: RoleOrgMember},
		{GroupID: groupID, RoleName: RoleGroupOwner},
		{OrgID: orgID, RoleName: RoleOrgBillingAdmin},
		{GroupID: groupID, RoleName: RoleGroupReadOnly},
		{GroupID: "aaaaaaaaaaaaaaaaaaaaaaaa", RoleName: RoleGroupClusterManager},
	}}
	assert.Equal(t, []string{RoleOrgMember, RoleOrgBillingAdmin}, k.OrgRoles())
	assert.Equal(t, map[string][]string{
		groupID:                    {RoleGroupOwner, RoleGroupReadOnly},
		"aaaaaaaaaaaaaaaaaaaaaaaa": {RoleGroupClusterManager},
	}, k.ProjectRoles())
	var none APIKey
	assert.Empty(t, none.OrgRoles())
	assert.Empty(t, none.ProjectRoles())
}

func TestAccessListEntry_Address(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "10.0.0.0/8", (&AccessListEntry{CIDRBlock: "10.0.0.0/8", IPAddress: "10.0.0.0"}).Address())
	assert.Equal(t, "10.1.2.3", (&AccessListEntry{IPAddress: "10.1.2.3"}).Address())
	// Atlas lists a single address with both fields; Address and Request
	// give the address, so Get/Delete and a copy use the form it was added in.
	ip := &AccessListEntry{IPAddress: "203.0.113.10", CIDRBlock: "203.0.113.10/32"}
	assert.Equal(t, "203.0.113.10", ip.Address())
	assert.Equal(t, AccessListRequest{IPAddress: "203.0.113.10"}, ip.Request())
	ip6 := &AccessListEntry{IPAddress: "2001:db8::1", CIDRBlock: "2001:db8::1/128"}
	assert.Equal(t, "2001:db8::1", ip6.Address())
	block := &AccessListEntry{CIDRBlock: "198.51.100.0/24"}
	assert.Equal(t, "198.51.100.0/24", block.Address())
	assert.Equal(t, AccessListRequest{CIDRBlock: "198.51.100.0/24"}, block.Request())
}

func TestPage_UnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		wantErr   bool
		wantN     int
		hasTotal  bool
		wantTotal int
		next      string
	}{
		{name: "with total", in: keyPageJSON, wantN: 1, hasTotal: true, wantTotal: 1},
		{name: "total zero", in: `{"results":[],"totalCount":0}`, hasTotal: true},
		{name: "no total", in: `{"results":[{"id":"a"},{"id":"b"}]}`, wantN: 2},
		{name: "null results", in: `{"results":null,"totalCount":3}`, hasTotal: true, wantTotal: 3},
		{name: "next link", in: `{"results":[{}],"links":[{"rel":"self","href":"s"},{"rel":"next","href":"https://x/next"}]}`, wantN: 1, next: "https://x/next"},
		{name: "no results field", in: `{"totalCount":3}`, wantErr: true},
		{name: "not an object", in: `[1,2]`, wantErr: true},
		{name: "wrong type", in: `{"results":"x"}`, wantErr: true},
		{name: "bad total", in: `{"results":[],"totalCount":"3"}`, wantErr: true},
	}
	for _, tt := range tests {
		var p Page[APIKey]
		err := json.Unmarshal([]byte(tt.in), &p)
		if tt.wantErr {
			assert.Error(t, err, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		assert.Len(t, p.Results, tt.wantN, tt.name)
		assert.NotNil(t, p.Results, tt.name)
		assert.Equal(t, tt.hasTotal, p.HasTotalCount(), tt.name)
		assert.Equal(t, tt.wantTotal, p.TotalCount, tt.name)
		assert.Equal(t, tt.next, p.NextLink(), tt.name)
	}
}

// TestRequestBodies_JSON checks the wire names of the request bodies.
func TestRequestBodies_JSON(t *testing.T) {
	t.Parallel()
	assert.JSONEq(t, `{"desc":"d","roles":["ORG_OWNER"]}`, string(mustJSON(t, CreateAPIKeyRequest{Desc: "d", Roles: []string{RoleOrgOwner}})))
	assert.JSONEq(t, `{"desc":"d"}`, string(mustJSON(t, UpdateAPIKeyRequest{Desc: "d"})))
	assert.JSONEq(t, `{"roles":["GROUP_OWNER"]}`, string(mustJSON(t, UpdateAPIKeyRequest{Roles: []string{RoleGroupOwner}})))
	assert.JSONEq(t, `{"cidrBlock":"10.0.0.0/8"}`, string(mustJSON(t, AccessListRequest{CIDRBlock: "10.0.0.0/8"})))
	assert.JSONEq(t, `{"ipAddress":"10.0.0.1"}`, string(mustJSON(t, AccessListRequest{IPAddress: "10.0.0.1"})))
}

func TestOrgRoles_Complete(t *testing.T) {
	t.Parallel()
	assert.ElementsMatch(t, []string{
		"ORG_OWNER", "ORG_MEMBER", "ORG_GROUP_CREATOR", "ORG_BILLING_ADMIN",
		"ORG_BILLING_READ_ONLY", "ORG_STREAM_PROCESSING_ADMIN", "ORG_READ_ONLY",
	}, OrgRoleNames())
	names := OrgRoleNames()
	names[0] = "changed"
	assert.Equal(t, RoleOrgOwner, OrgRoleNames()[0], "callers get a copy")
	for _, r := range OrgRoleNames() {
		assert.NoError(t, checkRoles("roles", []string{r}, true), r)
		assert.Error(t, checkRoles("roles", []string{r}, false), r)
	}
}
