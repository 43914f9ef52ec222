package atlaskeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors that an *APIError matches with errors.Is, by HTTP status.
var (
	ErrBadRequest   = errors.New("atlaskeys: bad request")  // 400
	ErrUnauthorized = errors.New("atlaskeys: unauthorized") // 401
	ErrForbidden    = errors.New("atlaskeys: forbidden")    // 403
	ErrNotFound     = errors.New("atlaskeys: not found")    // 404
	ErrConflict     = errors.New("atlaskeys: conflict")     // 409
	ErrRateLimited  = errors.New("atlaskeys: rate limited") // 429
	ErrServer       = errors.New("atlaskeys: server error") // 5xx
)

// ErrInvalidArgument is matched (errors.Is) by every error that atlaskeys
// returns for bad input before sending anything.
var ErrInvalidArgument = errors.New("atlaskeys: invalid argument")

// ErrRetryBudgetExhausted is matched by errors from calls that failed with a
// retryable error but were not retried because the client-wide retry budget
// was spent (see RetryPolicy.Budget).
var ErrRetryBudgetExhausted = errors.New("atlaskeys: retry budget exhausted")

// ErrResponseTooLarge is matched by errors from calls whose response body
// exceeded the client's limit (see WithMaxResponseBytes).
var ErrResponseTooLarge = errors.New("atlaskeys: response body too large")

// ErrBadResponse is matched by errors for 2xx responses the client could not
// use: an empty or truncated body, invalid JSON, or an unexpected content type.
var ErrBadResponse = errors.New("atlaskeys: bad response")

// APIError is a non-2xx answer from Atlas. Match it with errors.As, or test
// its status class with errors.Is against ErrNotFound and the other sentinels.
type APIError struct {
	// HTTPStatus is the response's status code.
	HTTPStatus int `json:"error"`
	// ErrorCode is Atlas's application error code, such as "API_KEY_NOT_FOUND".
	ErrorCode string `json:"errorCode"`
	// Detail is Atlas's human-readable explanation.
	Detail string `json:"detail"`
	// Reason is the status text Atlas sends, such as "Not Found".
	Reason string `json:"reason"`
	// Parameters holds values Atlas names in Detail.
	Parameters []any `json:"parameters"`
	// BadRequestDetail lists field violations on some 400 answers.
	BadRequestDetail *BadRequestDetail `json:"badRequestDetail,omitempty"`

	// Method and Path identify the request (never credentials or the query).
	Method string `json:"-"`
	Path   string `json:"-"`
	// Body is a short, printable snippet of a body that was not an Atlas
	// error document (an HTML page from a proxy, for example).
	Body string `json:"-"`
	// RetryAfter is the raw Retry-After header, when Atlas sent one.
	RetryAfter string `json:"-"`
}

// BadRequestDetail lists the request fields Atlas found invalid.
type BadRequestDetail struct {
	Fields []FieldViolation `json:"fields"`
}

// FieldViolation is one invalid request field.
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// Error reads like "GET /api/atlas/v2/orgs/…/apiKeys/…: 404 (API_KEY_NOT_FOUND): detail".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if e.ErrorCode != "" {
		b.WriteString(" (")
		b.WriteString(e.ErrorCode)
		b.WriteByte(')')
	} else if t := http.StatusText(e.HTTPStatus); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	switch {
	case e.Detail != "":
		b.WriteString(": ")
		b.WriteString(e.Detail)
	case e.Body != "":
		b.WriteString(": unexpected body: ")
		b.WriteString(strconv.Quote(e.Body))
	}
	return b.String()
}

// Is reports whether the error belongs to target's status class.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.HTTPStatus == http.StatusBadRequest
	case ErrUnauthorized:
		return e.HTTPStatus == http.StatusUnauthorized
	case ErrForbidden:
		return e.HTTPStatus == http.StatusForbidden
	case ErrNotFound:
		return e.HTTPStatus == http.StatusNotFound
	case ErrConflict:
		return e.HTTPStatus == http.StatusConflict
	case ErrRateLimited:
		return e.HTTPStatus == http.StatusTooManyRequests
	case ErrServer:
		return e.HTTPStatus >= 500 && e.HTTPStatus <= 599
	}
	return false
}

// IsErrorCode reports whether err is, or wraps, an *APIError with Atlas's
// error code code (for example "RATE_LIMITED").
func IsErrorCode(err error, code string) bool {
	var e *APIError
	return errors.As(err, &e) && e.ErrorCode == code
}

// newAPIError builds the error for a non-2xx response from its (size-limited)
// body. It never fails: a body that is not an Atlas error document is kept as
// a short snippet.
func newAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{}
	if len(body) > 0 && json.Unmarshal(body, e) == nil && (e.ErrorCode != "" || e.Detail != "") {
		// Atlas's document; trust our own view of the status line over its field.
	} else {
		*e = APIError{Body: snippet(body)}
	}
	e.HTTPStatus = resp.StatusCode
	if resp.Request != nil {
		e.Method = resp.Request.Method
		e.Path = resp.Request.URL.EscapedPath()
	}
	e.RetryAfter = resp.Header.Get("Retry-After")
	return e
}

// snippet returns at most 200 printable characters of b, for error messages.
func snippet(b []byte) string {
	const max = 200
	var out strings.Builder
	n := 0
	for len(b) > 0 && n < max {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		n++
		switch {
		case r == utf8.RuneError && size <= 1:
			out.WriteByte('?')
		case r == '\n' || r == '\r' || r == '\t':
			out.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			out.WriteByte('?')
		default:
			out.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(out.String()), " ")
	if len(b) > 0 {
		s += "…"
	}
	return s
}

// ArgumentError is returned for bad input, before any request is sent. It
// matches ErrInvalidArgument with errors.Is.
type ArgumentError struct {
	// Arg names the argument or field, such as "orgID" or "entries[1].CIDRBlock".
	Arg string
	// Problem says what is wrong with it.
	Problem string
}

// Error reads like "atlaskeys: invalid argument orgID: must not be empty".
func (e *ArgumentError) Error() string {
	return "atlaskeys: invalid argument " + e.Arg + ": " + e.Problem
}

// Is makes ArgumentError match ErrInvalidArgument.
func (e *ArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

func invalidArg(arg, problem string) error { return &ArgumentError{Arg: arg, Problem: problem} }

// checkID checks a 24-hex-digit Atlas id (orgId, groupId, apiUserId).
func checkID(arg, id string) error {
	if len(id) == 24 {
		ok := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
	}
	switch {
	case id == "":
		return invalidArg(arg, "must not be empty")
	case len(id) == 8:
		return invalidArg(arg, fmt.Sprintf("%q is not a 24-hex-digit id; it looks like an 8-character public key: pass the key's ID field instead", id))
	case len(id) == 24 && strings.ToLower(id) != id && checkID(arg, strings.ToLower(id)) == nil:
		return invalidArg(arg, fmt.Sprintf("%q is not a 24-hex-digit id: Atlas ids are lowercase", id))
	case len(id) == 24:
		return invalidArg(arg, fmt.Sprintf("%q is not a 24-hex-digit id (0-9, a-f)", id))
	default:
		return invalidArg(arg, fmt.Sprintf("%q is not a 24-hex-digit id (it has %d characters)", id, len(id)))
	}
}

// attemptsError wraps the final error of a call that failed with a
// retryable condition, saying how many attempts were made.
type attemptsError struct {
	attempts int
	why      string // why no further attempt was made
	budget   bool   // the retry budget was spent
	err      error
}

// Is makes the error match ErrRetryBudgetExhausted when that stopped retries.
func (e *attemptsError) Is(target error) bool {
	return e.budget && target == ErrRetryBudgetExhausted
}

func (e *attemptsError) Error() string {
	s := "attempt"
	if e.attempts != 1 {
		s = "attempts"
	}
	msg := e.err.Error() + " (" + strconv.Itoa(e.attempts) + " " + s
	if e.why != "" {
		msg += "; " + e.why
	}
	return msg + ")"
}

func (e *attemptsError) Unwrap() error { return e.err }

// Attempts reports how many HTTP attempts the call that returned err made,
// when err came from a call that met a retryable failure; 0 otherwise.
func Attempts(err error) int {
	var e *attemptsError
	if errors.As(err, &e) {
		return e.attempts
	}
	return 0
}
