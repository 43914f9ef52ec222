package atlaskeys

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var statusSentinels = []error{
	ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrRateLimited, ErrServer,
}

func TestAPIError_Statuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{400, "VALIDATION_ERROR", ErrBadRequest},
		{401, "NOT_ORG_GROUP_CREATOR", ErrUnauthorized},
		{403, "CANNOT_CHANGE_GROUP_NAME", ErrForbidden},
		{404, "API_KEY_NOT_FOUND", ErrNotFound},
		{409, "CANNOT_DELETE_ORG_ACTIVE_LIVE_MIGRATION_ATLAS_ORG_LINK", ErrConflict},
		{429, "RATE_LIMITED", ErrRateLimited},
		{500, "UNEXPECTED_ERROR", ErrServer},
		{503, "SERVICE_UNAVAILABLE", ErrServer},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, `{"detail":"No API key with ID 32b6e34b3d91647abb20e7b8 exists in organization 4888442a3354817a7320eb61.",`+
					`"error":`+strconv.Itoa(tt.status)+`,"errorCode":"`+tt.code+`","parameters":["32b6e34b3d91647abb20e7b8",{"orgId":"4888442a3354817a7320eb61"}],"reason":"`+http.StatusText(tt.status)+`"}`)
			})
			k, resp, err := f.client.OrgAPIKeys.Get(context.Background(), orgID, keyID)
			require.Error(t, err)
			assert.Nil(t, k)
			require.NotNil(t, resp)
			assert.Equal(t, tt.status, resp.StatusCode)

			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.HTTPStatus)
			assert.Equal(t, tt.code, ae.ErrorCode)
			assert.Equal(t, "No API key with ID 32b6e34b3d91647abb20e7b8 exists in organization 4888442a3354817a7320eb61.", ae.Detail)
			assert.Equal(t, http.StatusText(tt.status), ae.Reason)
			assert.Equal(t, []any{keyID, map[string]any{"orgId": orgID}}, ae.Parameters)
			assert.Equal(t, http.MethodGet, ae.Method)
			assert.Equal(t, "/base-prefix/api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID, ae.Path)
			assert.Empty(t, ae.Body)
			assert.True(t, IsErrorCode(err, tt.code))
			assert.False(t, IsErrorCode(err, "SOMETHING_ELSE"))

			assert.ErrorIs(t, err, tt.want)
			for _, s := range statusSentinels {
				if s != tt.want {
					assert.NotErrorIs(t, err, s)
				}
			}
			assert.NotErrorIs(t, err, ErrInvalidArgument)
			assert.NotErrorIs(t, err, ErrBadResponse)
			want := "GET /base-prefix/api/atlas/v2/orgs/" + orgID + "/apiKeys/" + keyID + ": " + strconv.Itoa(tt.status) + " (" + tt.code +
				"): No API key with ID 32b6e34b3d91647abb20e7b8 exists in organization 4888442a3354817a7320eb61."
			assert.Equal(t, want, ae.Error())
			if tt.status == 429 || tt.status >= 500 {
				// A retryable status says why it was not retried.
				assert.Equal(t, want+" (1 attempt; retries are off)", err.Error())
				assert.Equal(t, 1, Attempts(err))
			} else {
				assert.Equal(t, want, err.Error())
				assert.Zero(t, Attempts(err))
			}
		})
	}
}

// TestAPIError_BadRequestDetail decodes a 400 with field violations.
func TestAPIError_BadRequestDetail(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"badRequestDetail":{"fields":[{"description":"must not be blank","field":"desc"}]},`+
			`"detail":"Invalid attribute desc specified.","error":400,"errorCode":"INVALID_ATTRIBUTE","parameters":["desc"],"reason":"Bad Request"}`)
	})
	_, _, err := f.client.OrgAPIKeys.Update(context.Background(), orgID, keyID, &UpdateAPIKeyRequest{Desc: "x"})
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.NotNil(t, ae.BadRequestDetail)
	assert.Equal(t, []FieldViolation{{Field: "desc", Description: "must not be blank"}}, ae.BadRequestDetail.Fields)
	assert.Equal(t, "PATCH", ae.Method)
	assert.ErrorIs(t, err, ErrBadRequest)
	assert.Equal(t, "PATCH /base-prefix/api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID+": 400 (INVALID_ATTRIBUTE): Invalid attribute desc specified.", err.Error())
}

// TestAPIError_NotAtlasBody checks errors for bodies that are not Atlas
// error documents: they keep the status and show a snippet.
func TestAPIError_NotAtlasBody(t *testing.T) {
	t.Parallel()
	html := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
	tests := []struct {
		name, ctype, body string
		status            int
		wantErr           string // exact Error() after the method and path
		wantBody          string
		want              error
	}{
		{
			name: "HTML from a proxy", ctype: "text/html", body: html, status: 502,
			wantBody: "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> <hr><center>nginx</center> </body> </html>",
			wantErr:  `502 Bad Gateway: unexpected body: "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> <hr><center>nginx</center> </body> </html>"`,
			want:     ErrServer,
		},
		{
			name: "empty body", status: 503,
			wantErr: "503 Service Unavailable", want: ErrServer,
		},
		{
			name: "JSON that is not an Atlas error", ctype: "application/json", body: `{"message":"nope"}`, status: 404,
			wantBody: `{"message":"nope"}`, wantErr: `404 Not Found: unexpected body: "{\"message\":\"nope\"}"`, want: ErrNotFound,
		},
		{
			name: "binary garbage", ctype: "application/octet-stream", body: "\x00\x01\xff\xfeok", status: 401,
			wantBody: "????ok", wantErr: `401 Unauthorized: unexpected body: "????ok"`, want: ErrUnauthorized,
		},
		{
			name: "teapot", ctype: "text/plain", body: "short and stout", status: 418,
			wantBody: "short and stout", wantErr: `418 I'm a teapot: unexpected body: "short and stout"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.mux.HandleFunc("/api/atlas/v2/", func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := f.client.OrgAPIKeys.Delete(context.Background(), orgID, keyID)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.HTTPStatus)
			assert.Equal(t, tt.wantBody, ae.Body)
			assert.Empty(t, ae.ErrorCode)
			assert.Equal(t, "DELETE /base-prefix/api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID+": "+tt.wantErr, ae.Error())
			assert.True(t, strings.HasPrefix(err.Error(), ae.Error()), err.Error())
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			for _, s := range statusSentinels {
				if s != tt.want {
					assert.NotErrorIs(t, err, s)
				}
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "", snippet(nil))
	assert.Equal(t, "a b", snippet([]byte("  a\n\t b  ")))
	long := snippet([]byte(strings.Repeat("x", 1000)))
	assert.True(t, strings.HasSuffix(long, "…"), long)
	assert.LessOrEqual(t, len(long), 200+len("…"))
	assert.Equal(t, "?bad", snippet([]byte("\x1bbad")))
	assert.Equal(t, "héllo", snippet([]byte("héllo")))
}

func TestNewAPIError_TrustsStatusLine(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest(http.MethodGet, "https://cloud.mongodb.com/api/atlas/v2/orgs/"+orgID+"/apiKeys?pageNum=2", nil)
	resp := &http.Response{StatusCode: 404, Header: http.Header{"Retry-After": {"7"}}, Request: req}
	e := newAPIError(resp, []byte(`{"error":500,"errorCode":"RESOURCE_NOT_FOUND","detail":"gone"}`))
	assert.Equal(t, 404, e.HTTPStatus)
	assert.Equal(t, "7", e.RetryAfter)
	assert.Equal(t, "/api/atlas/v2/orgs/"+orgID+"/apiKeys", e.Path, "the query never reaches an error")
	assert.NotContains(t, e.Error(), "pageNum")
	assert.ErrorIs(t, e, ErrNotFound)
	assert.NotErrorIs(t, e, ErrServer)

	// A wrong-typed field makes it not an Atlas document.
	e = newAPIError(&http.Response{StatusCode: 400}, []byte(`{"error":"bad","errorCode":"X"}`))
	assert.Equal(t, 400, e.HTTPStatus)
	assert.Empty(t, e.ErrorCode)
	assert.Equal(t, `{"error":"bad","errorCode":"X"}`, e.Body)
}

func TestIsErrorCode_Wrapped(t *testing.T) {
	t.Parallel()
	inner := &APIError{HTTPStatus: 429, ErrorCode: "RATE_LIMITED"}
	err := &attemptsError{attempts: 4, err: inner}
	wrapped := errors.Join(errors.New("context"), err)
	assert.True(t, IsErrorCode(wrapped, "RATE_LIMITED"))
	assert.ErrorIs(t, wrapped, ErrRateLimited)
	assert.Equal(t, 4, Attempts(wrapped))
	assert.False(t, IsErrorCode(errors.New("RATE_LIMITED"), "RATE_LIMITED"))
	assert.False(t, IsErrorCode(nil, ""))
	assert.Zero(t, Attempts(inner))
	assert.Zero(t, Attempts(nil))
}

func TestArgumentError(t *testing.T) {
	t.Parallel()
	err := invalidArg("orgID", "must not be empty")
	assert.EqualError(t, err, "atlaskeys: invalid argument orgID: must not be empty")
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.NotErrorIs(t, err, ErrBadRequest)
}
