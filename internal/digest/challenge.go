package digest

import (
	"errors"
	"fmt"
	"strings"
)

// Challenge is one Digest challenge taken from a WWW-Authenticate header
// (RFC 7616 §3.3, RFC 2617 §3.2.1).
type Challenge struct {
	Realm     string
	Domain    string
	Nonce     string
	Opaque    string
	Algorithm string // canonical spelling when known ("MD5", "SHA-256-sess", ...); "" means MD5
	Charset   string
	QOP       []string // lower-cased tokens in the order offered; empty for RFC 2069 servers
	Stale     bool
	UserHash  bool
}

// ErrMalformedChallenge is wrapped by every error that ParseChallenges returns.
var ErrMalformedChallenge = errors.New("digest: malformed challenge")

// authParam is one name=value pair of a challenge or of an Authentication-Info
// header. name is kept as received; compare it with strings.EqualFold.
type authParam struct {
	name, value string
}

// rawChallenge is an auth-scheme with its parameters, before interpretation.
type rawChallenge struct {
	scheme string
	params []authParam
}

// ParseChallenges parses every Digest challenge in the given WWW-Authenticate
// header values. Challenges of other schemes are skipped. Each header value may
// hold several challenges.
//
// The parser is tolerant of the usual deviations (any case in the scheme and
// parameter names, blanks around "=" and ",", quoted or unquoted values, empty
// values, unknown parameters). A header value that cannot be tokenised, or a
// Digest challenge that lacks a realm or a nonce, is reported in the returned
// error (which wraps ErrMalformedChallenge). Well-formed Digest challenges are
// still returned next to such an error, so a caller may use them; when the error
// is non-nil and the slice empty, nothing usable was found. No Digest challenge
// at all yields (nil, nil).
func ParseChallenges(headerValues []string) ([]Challenge, error) {
	var out []Challenge
	var errs []error
	for i, hv := range headerValues {
		raws, err := splitChallenges(hv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: header value %d: %v", ErrMalformedChallenge, i, err))
		}
		for _, rc := range raws {
			if !strings.EqualFold(rc.scheme, "Digest") {
				continue
			}
			ch, err := digestChallenge(rc.params)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: header value %d: %v", ErrMalformedChallenge, i, err))
				continue
			}
			out = append(out, ch)
		}
	}
	return out, errors.Join(errs...)
}

// digestChallenge interprets the parameters of one Digest challenge.
func digestChallenge(params []authParam) (Challenge, error) {
	var ch Challenge
	var haveRealm, haveNonce bool
	for _, p := range params {
		switch strings.ToLower(p.name) {
		case "realm":
			ch.Realm, haveRealm = p.value, true
		case "domain":
			ch.Domain = p.value
		case "nonce":
			ch.Nonce, haveNonce = p.value, true
		case "opaque":
			ch.Opaque = p.value
		case "algorithm":
			ch.Algorithm = canonicalAlgorithm(p.value)
		case "charset":
			ch.Charset = p.value
		case "qop":
			ch.QOP = splitQOP(p.value)
		case "stale":
			ch.Stale = strings.EqualFold(strings.TrimSpace(p.value), "true")
		case "userhash":
			ch.UserHash = strings.EqualFold(strings.TrimSpace(p.value), "true")
		}
	}
	switch {
	case !haveRealm:
		return Challenge{}, errors.New("digest challenge without realm")
	case ch.Realm == "":
		return Challenge{}, errors.New("digest challenge with an empty realm")
	case !haveNonce:
		return Challenge{}, errors.New("digest challenge without nonce")
	case ch.Nonce == "":
		return Challenge{}, errors.New("digest challenge with an empty nonce")
	}
	return ch, nil
}

func splitQOP(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// splitChallenges tokenises one header value into challenges. On a syntax error
// it returns the challenges completed before the error (not the one being read,
// whose parameters may be cut short), plus the error.
//
// Grammar handled (RFC 9110 §11.6.1, tolerantly):
//
//	challenges = challenge *( "," challenge )
//	challenge  = scheme [ 1*SP ( token68 / auth-param *( "," auth-param ) ) ]
//	auth-param = name BWS "=" BWS ( token / quoted-string )
//
// A word followed by "=" is a parameter of the current challenge; any other word
// starts a new challenge. Commas may be missing between parameters.
func splitChallenges(s string) ([]rawChallenge, error) {
	var out []rawChallenge
	var cur *rawChallenge
	i := 0
	for {
		i = skipSeparators(s, i)
		if i >= len(s) {
			break
		}
		start := i
		i = scanWord(s, i)
		if i == start {
			return out, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
		word := s[start:i]
		j := skipBlanks(s, i)
		if j < len(s) && s[j] == '=' {
			if cur == nil {
				return out, fmt.Errorf("parameter %q before any auth-scheme", truncate(word))
			}
			v, next, err := scanValue(s, skipBlanks(s, j+1))
			if err != nil {
				return out, err
			}
			cur.params = append(cur.params, authParam{name: word, value: v})
			i = next
			continue
		}
		if cur != nil {
			out = append(out, *cur)
		}
		cur = &rawChallenge{scheme: word}
		i = j
	}
	return finish(out, cur), nil
}

func finish(out []rawChallenge, cur *rawChallenge) []rawChallenge {
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// parseParams parses a bare comma-separated auth-param list, as found in an
// Authentication-Info header (RFC 7615) or in an Authorization header.
func parseParams(s string) ([]authParam, error) {
	var out []authParam
	i := 0
	for {
		i = skipSeparators(s, i)
		if i >= len(s) {
			return out, nil
		}
		start := i
		i = scanWord(s, i)
		if i == start {
			return out, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
		name := s[start:i]
		i = skipBlanks(s, i)
		if i >= len(s) || s[i] != '=' {
			return out, fmt.Errorf("parameter %q without a value", truncate(name))
		}
		v, next, err := scanValue(s, skipBlanks(s, i+1))
		if err != nil {
			return out, err
		}
		out = append(out, authParam{name: name, value: v})
		i = next
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func skipBlanks(s string, i int) int {
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return i
}

func skipSeparators(s string, i int) int {
	for i < len(s) && (isBlank(s[i]) || s[i] == ',') {
		i++
	}
	return i
}

// scanWord returns the end of the run of characters that may appear in a
// scheme, a parameter name or a token68 (anything but blanks, ",", "=", quote
// and control characters).
func scanWord(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if isBlank(c) || c == ',' || c == '=' || c == '"' || c < 0x20 || c == 0x7f {
			break
		}
		i++
	}
	return i
}

// scanValue reads a parameter value starting at i: a quoted-string (with
// backslash escapes removed) or an unquoted run ending at a blank or a comma,
// which may be empty. It returns the value and the index after it.
func scanValue(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		return scanQuoted(s, i)
	}
	start := i
	for i < len(s) && !isBlank(s[i]) && s[i] != ',' {
		if s[i] == '"' {
			return "", i, fmt.Errorf("unexpected quote at offset %d", i)
		}
		i++
	}
	return s[start:i], i, nil
}

// scanQuoted reads a quoted-string whose opening quote is at s[i].
func scanQuoted(s string, i int) (string, int, error) {
	open := i
	i++
	start := i
	// Fast path: no escapes, the value is a substring.
	for i < len(s) && s[i] != '"' && s[i] != '\\' {
		i++
	}
	if i < len(s) && s[i] == '"' {
		return s[start:i], i + 1, nil
	}
	var b strings.Builder
	b.WriteString(s[start:i])
	for i < len(s) {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", i, fmt.Errorf("unterminated quoted string at offset %d", open)
			}
			b.WriteByte(s[i+1])
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", i, fmt.Errorf("unterminated quoted string at offset %d", open)
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// writeQuoted writes s as the inside of an RFC 9110 quoted-string, escaping
// '"' and '\'.
func writeQuoted(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, `"\`) {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}
