package atlaskeys

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAPIErrorBody feeds arbitrary bytes to newAPIError: it must never
// panic, always keep the status, method and path from the response, and
// produce a printable message.
func FuzzAPIErrorBody(f *testing.F) {
	f.Add(404, []byte(`{"detail":"No API key with ID 32b6e34b3d91647abb20e7b8 exists.","error":404,"errorCode":"API_KEY_NOT_FOUND","parameters":["32b6e34b3d91647abb20e7b8"],"reason":"Not Found"}`))
	f.Add(400, []byte(`{"badRequestDetail":{"fields":[{"description":"must not be blank","field":"desc"}]},"error":400,"errorCode":"INVALID_ATTRIBUTE"}`))
	f.Add(502, []byte("<html><head><title>502 Bad Gateway</title></head></html>"))
	f.Add(429, []byte(``))
	f.Add(500, []byte(`{"error":"five hundred","errorCode":7}`))
	f.Add(503, []byte(`null`))
	f.Add(401, []byte("\xff\xfe\x00\x01"))
	f.Add(409, []byte(`{"errorCode":"X","parameters":{"not":"an array"}}`))
	f.Add(418, []byte(`{"badRequestDetail":null,"detail":"\u0000\n"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		req, _ := http.NewRequest(http.MethodDelete, "https://cloud.mongodb.com/api/atlas/v2/orgs/4888442a3354817a7320eb61/apiKeys/32b6e34b3d91647abb20e7b8", nil)
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Request: req}
		e := newAPIError(resp, body)
		if e == nil {
			t.Fatal("nil error")
		}
		if e.HTTPStatus != status {
			t.Fatalf("status %d, want %d", e.HTTPStatus, status)
		}
		if e.Method != http.MethodDelete || !strings.HasSuffix(e.Path, "/apiKeys/32b6e34b3d91647abb20e7b8") {
			t.Fatalf("lost the request: %s %s", e.Method, e.Path)
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "DELETE /api/atlas/v2/") {
			t.Fatalf("message %q", msg)
		}
		if !utf8.ValidString(e.Body) || strings.ContainsAny(e.Body, "\x00\r\n") {
			t.Fatalf("body snippet not printable: %q", e.Body)
		}
		if utf8.RuneCountInString(e.Body) > 201 {
			t.Fatalf("body snippet too long: %d runes", utf8.RuneCountInString(e.Body))
		}
		_ = e.Is(ErrNotFound)
	})
}

// FuzzPageBody decodes arbitrary bytes as a page of API keys: it must never
// panic, and a decoded page always has non-nil results.
func FuzzPageBody(f *testing.F) {
	f.Add([]byte(keyPageJSON))
	f.Add([]byte(`{"results":[],"totalCount":0}`))
	f.Add([]byte(`{"results":null}`))
	f.Add([]byte(`{"totalCount":5}`))
	f.Add([]byte(`{"results":[{"privateKey":42}]}`))
	f.Add([]byte(`{"results":[{}],"links":[{"rel":"next","href":"x"}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"results":[{"roles":[{"roleName":"ORG_OWNER","orgId":"x"}]}],"totalCount":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Page[APIKey]
		if err := json.Unmarshal(body, &p); err != nil {
			return
		}
		if p.Results == nil {
			t.Fatalf("decoded page with nil results from %q", body)
		}
		_ = p.NextLink()
		for i := range p.Results {
			k := &p.Results[i]
			_ = k.OrgRoles()
			_ = k.ProjectRoles()
			_ = k.PrivateKey.String()
		}
		if !p.HasTotalCount() && p.TotalCount != 0 {
			t.Fatalf("TotalCount %d without a count", p.TotalCount)
		}
	})
}
