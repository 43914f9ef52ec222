package atlastest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The wire structs below are this package's own reading of the contract
// (spec/atlas-apikeys.openapi.yaml); they deliberately share nothing with the
// client library.

const (
	supportedVersion = "2023-01-01"
	vendorMediaType  = "application/vnd.atlas." + supportedVersion + "+json"
	apiPrefix        = "/api/atlas/v2"
	digestRealm      = "MMS Public API"
)

type wireLink struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

type wireRole struct {
	GroupID  string `json:"groupId,omitempty"`
	OrgID    string `json:"orgId,omitempty"`
	RoleName string `json:"roleName"`
}

type wireKey struct {
	Desc       string     `json:"desc"`
	ID         string     `json:"id"`
	Links      []wireLink `json:"links"`
	PrivateKey string     `json:"privateKey"`
	PublicKey  string     `json:"publicKey"`
	Roles      []wireRole `json:"roles"`
}

type wireEntry struct {
	CIDRBlock       string     `json:"cidrBlock"`
	Count           int        `json:"count,omitempty"`
	Created         string     `json:"created"`
	IPAddress       string     `json:"ipAddress,omitempty"`
	LastUsed        string     `json:"lastUsed,omitempty"`
	LastUsedAddress string     `json:"lastUsedAddress,omitempty"`
	Links           []wireLink `json:"links"`
}

type wirePage[T any] struct {
	Links      []wireLink `json:"links"`
	Results    []T        `json:"results"`
	TotalCount *int       `json:"totalCount,omitempty"`
}

// Request bodies. Pointers distinguish "absent" from "empty".
type wireCreateKey struct {
	Desc  *string   `json:"desc"`
	Roles *[]string `json:"roles"`
}

type wireAccessReq struct {
	CIDRBlock *string `json:"cidrBlock"`
	IPAddress *string `json:"ipAddress"`
}

type wireAssign struct {
	Roles  []string `json:"roles"`
	UserID string   `json:"userId,omitempty"`
}

// wireError is Atlas's ApiError body.
type wireError struct {
	Detail     string `json:"detail"`
	Error      int    `json:"error"`
	ErrorCode  string `json:"errorCode"`
	Parameters []any  `json:"parameters"`
	Reason     string `json:"reason"`
}

// apiErr is an error a handler returns; the dispatcher renders it.
type apiErr struct {
	status int
	code   string
	detail string
	params []any
	header map[string]string
}

func (e *apiErr) Error() string { return e.code + ": " + e.detail }

func newErr(status int, code, detail string, params ...any) *apiErr {
	if params == nil {
		params = []any{}
	}
	return &apiErr{status: status, code: code, detail: detail, params: params}
}

// codeForStatus is the errorCode used for injected faults.
func codeForStatus(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "RATE_LIMITED"
	case http.StatusInternalServerError:
		return "UNEXPECTED_ERROR"
	case http.StatusServiceUnavailable:
		return "SERVICE_UNAVAILABLE"
	case http.StatusBadGateway:
		return "BAD_GATEWAY"
	case http.StatusGatewayTimeout:
		return "GATEWAY_TIMEOUT"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "USER_UNAUTHORIZED"
	case http.StatusNotFound:
		return "RESOURCE_NOT_FOUND"
	case http.StatusConflict:
		return "CONFLICT"
	case http.StatusBadRequest:
		return "VALIDATION_ERROR"
	}
	t := strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	if t == "" {
		t = "STATUS_" + strconv.Itoa(status)
	}
	return t
}

// respOpts are the per-request rendering options (?pretty, ?envelope).
type respOpts struct {
	pretty   bool
	envelope bool
}

func marshal(v any, o respOpts) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if o.pretty {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v) // our own wire structs always encode
	return buf.Bytes()
}

func writeBody(w http.ResponseWriter, status int, contentType string, v any, o respOpts) {
	if o.envelope {
		v = map[string]any{"status": status, "content": v}
		status = http.StatusOK
	}
	b := marshal(v, o)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, e *apiErr, o respOpts) {
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	writeBody(w, e.status, "application/json", wireError{
		Detail:     e.detail,
		Error:      e.status,
		ErrorCode:  e.code,
		Parameters: e.params,
		Reason:     http.StatusText(e.status),
	}, o)
}
