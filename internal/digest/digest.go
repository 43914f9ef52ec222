package digest

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// hashKind is a supported hash function.
type hashKind uint8

const (
	hashMD5 hashKind = iota + 1
	hashSHA256
	hashSHA512_256
)

// strength ranks the hash functions: SHA-512-256 > SHA-256 > MD5.
func (k hashKind) strength() int { return int(k) }

// appendHex appends the lower-case hex digest of data to dst. It switches on the
// kind (rather than calling through a function value) so that the compiler can
// keep the buffers on the stack.
func (k hashKind) appendHex(dst, data []byte) []byte {
	switch k {
	case hashMD5:
		sum := md5.Sum(data)
		return hex.AppendEncode(dst, sum[:])
	case hashSHA256:
		sum := sha256.Sum256(data)
		return hex.AppendEncode(dst, sum[:])
	default:
		sum := sha512.Sum512_256(data)
		return hex.AppendEncode(dst, sum[:])
	}
}

// algorithm is a parsed value of the algorithm parameter.
type algorithm struct {
	hash hashKind
	sess bool
	name string // canonical name as sent back; "" when the challenge had none (MD5)
}

var knownAlgorithms = [...]algorithm{
	{hashMD5, false, "MD5"},
	{hashMD5, true, "MD5-sess"},
	{hashSHA256, false, "SHA-256"},
	{hashSHA256, true, "SHA-256-sess"},
	{hashSHA512_256, false, "SHA-512-256"},
	{hashSHA512_256, true, "SHA-512-256-sess"},
}

// canonicalAlgorithm returns the RFC 7616 spelling of a known algorithm name in
// any case, or v unchanged.
func canonicalAlgorithm(v string) string {
	for _, a := range knownAlgorithms {
		if strings.EqualFold(a.name, v) {
			return a.name
		}
	}
	return v
}

// lookupAlgorithm maps the algorithm parameter to a supported algorithm. An
// absent algorithm means MD5 (RFC 7616 §3.3).
func lookupAlgorithm(name string) (algorithm, bool) {
	if name == "" {
		return algorithm{hash: hashMD5}, true
	}
	for _, a := range knownAlgorithms {
		if strings.EqualFold(a.name, name) {
			return a, true
		}
	}
	return algorithm{}, false
}

// UnsupportedAlgorithmError reports a challenge whose algorithm this package
// cannot compute.
type UnsupportedAlgorithmError struct{ Algorithm string }

// Error names the algorithm (never the credentials).
func (e *UnsupportedAlgorithmError) Error() string {
	return fmt.Sprintf("digest: unsupported algorithm %q", truncate(e.Algorithm))
}

// errUnsupportedQOP is returned when a challenge offers only qop values other
// than auth and auth-int.
var errUnsupportedQOP = errors.New("digest: challenge offers no supported qop (need auth or auth-int)")

// chooseQOP picks the qop to answer with: auth when offered, auth-int only when
// it is the only usable option, "" for RFC 2069 challenges without qop.
func chooseQOP(offered []string) (string, error) {
	if len(offered) == 0 {
		return "", nil
	}
	var authInt bool
	for _, q := range offered {
		switch q {
		case "auth":
			return "auth", nil
		case "auth-int":
			authInt = true
		}
	}
	if authInt {
		return "auth-int", nil
	}
	return "", errUnsupportedQOP
}

// errSessWithoutQOP: a -sess algorithm needs a cnonce, which RFC 2069 style
// (no qop) cannot carry.
var errSessWithoutQOP = errors.New("digest: challenge asks for a -sess algorithm without qop")

// supported checks that the challenge can be answered and returns the
// algorithm and qop to use.
func supported(ch Challenge) (algorithm, string, error) {
	alg, ok := lookupAlgorithm(ch.Algorithm)
	if !ok {
		return algorithm{}, "", &UnsupportedAlgorithmError{Algorithm: ch.Algorithm}
	}
	qop, err := chooseQOP(ch.QOP)
	if err != nil {
		return algorithm{}, "", err
	}
	if alg.sess && qop == "" {
		return algorithm{}, "", errSessWithoutQOP
	}
	return alg, qop, nil
}

// pickChallenge returns the strongest challenge this package can answer. Ties
// keep the server's order. accept, when non-nil, restricts the algorithms
// (tests use it to force a fallback).
func pickChallenge(chs []Challenge, accept func(algorithm) bool) (Challenge, error) {
	best, bestStrength := -1, 0
	var firstErr error
	for i, ch := range chs {
		alg, _, err := supported(ch)
		if err == nil && accept != nil && !accept(alg) {
			err = &UnsupportedAlgorithmError{Algorithm: ch.Algorithm}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if s := alg.hash.strength(); s > bestStrength {
			best, bestStrength = i, s
		}
	}
	if best < 0 {
		if firstErr == nil {
			firstErr = errors.New("digest: no digest challenge")
		}
		return Challenge{}, firstErr
	}
	return chs[best], nil
}

// entry is a challenge prepared for signing: everything that does not change
// from one request to the next is computed once. Only nc changes, atomically.
type entry struct {
	ch   Challenge
	alg  algorithm
	qop  string
	ha1  string // hex H(A1) for non-sess algorithms; hex H(user:realm:pass) for -sess
	head string // `Digest username="…", realm="…", nonce="…", uri="`
	tail string // `, algorithm=…, opaque="…", userhash=true` (each only when needed)
	nc   atomic.Uint32
}

// newEntry prepares ch for the given credentials. It fails for unsupported
// algorithms or qop values; the error never contains the credentials.
func newEntry(username, password string, ch Challenge) (*entry, error) {
	alg, qop, err := supported(ch)
	if err != nil {
		return nil, err
	}
	e := &entry{ch: ch, alg: alg, qop: qop}

	buf := make([]byte, 0, len(username)+len(ch.Realm)+len(password)+2)
	buf = append(append(append(append(append(buf, username...), ':'), ch.Realm...), ':'), password...)
	e.ha1 = string(alg.hash.appendHex(nil, buf))
	clear(buf) // do not leave the password lying around longer than needed

	var h strings.Builder
	h.WriteString("Digest ")
	switch {
	case ch.UserHash:
		uh := alg.hash.appendHex(nil, []byte(username+":"+ch.Realm))
		h.WriteString(`username="`)
		h.Write(uh)
		h.WriteString(`", `)
	case needsExtValue(username):
		// RFC 7616 §3.4.4: username* with RFC 5987 encoding.
		h.WriteString("username*=UTF-8''")
		h.WriteString(pctEncode(username))
		h.WriteString(", ")
	default:
		h.WriteString(`username="`)
		writeQuoted(&h, username)
		h.WriteString(`", `)
	}
	h.WriteString(`realm="`)
	writeQuoted(&h, ch.Realm)
	h.WriteString(`", nonce="`)
	writeQuoted(&h, ch.Nonce)
	h.WriteString(`", uri="`)
	e.head = h.String()

	var t strings.Builder
	if alg.name != "" {
		t.WriteString(", algorithm=")
		t.WriteString(alg.name)
	}
	if ch.Opaque != "" {
		t.WriteString(`, opaque="`)
		writeQuoted(&t, ch.Opaque)
		t.WriteByte('"')
	}
	if ch.UserHash {
		t.WriteString(", userhash=true")
	}
	e.tail = t.String()
	return e, nil
}

// needsExtValue reports whether username cannot be sent as a plain
// quoted-string: non-ASCII or control characters.
func needsExtValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

// pctEncode encodes s as an RFC 5987 value-chars (attr-char or %XX).
func pctEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// appendNC appends nc as 8 lower-case hex digits.
func appendNC(dst []byte, nc uint32) []byte {
	const hexDigits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(nc>>uint(shift))&0xf])
	}
	return dst
}

// appendResponse appends the hex request-digest (the "response" parameter) to
// dst. nc and cnonce are ignored when the entry has no qop; body is only read
// for qop=auth-int.
func (e *entry) appendResponse(dst []byte, method, uri string, nc, cnonce []byte, body []byte) []byte {
	k := e.alg.hash
	var stack [256]byte
	b := stack[:0]

	// H(A1)
	var ha1Buf [64]byte
	ha1 := append(ha1Buf[:0], e.ha1...)
	if e.alg.sess {
		b = append(b, e.ha1...)
		b = append(b, ':')
		b = append(b, e.ch.Nonce...)
		b = append(b, ':')
		b = append(b, cnonce...)
		ha1 = k.appendHex(ha1Buf[:0], b)
	}

	// H(A2)
	b = append(b[:0], method...)
	b = append(b, ':')
	b = append(b, uri...)
	if e.qop == "auth-int" {
		b = append(b, ':')
		b = k.appendHex(b, body)
	}
	var ha2Buf [64]byte
	ha2 := k.appendHex(ha2Buf[:0], b)

	// KD(H(A1), nonce ":" [nc ":" cnonce ":" qop ":"] H(A2))
	b = append(b[:0], ha1...)
	b = append(b, ':')
	b = append(b, e.ch.Nonce...)
	b = append(b, ':')
	if e.qop != "" {
		b = append(b, nc...)
		b = append(b, ':')
		b = append(b, cnonce...)
		b = append(b, ':')
		b = append(b, e.qop...)
		b = append(b, ':')
	}
	b = append(b, ha2...)
	return k.appendHex(dst, b)
}

// authorization builds the Authorization header value for one request, with a
// fresh cnonce and the next nc for this nonce.
func (e *entry) authorization(method, uri string, body []byte) (string, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", errors.New("digest: cannot generate cnonce")
	}
	var cnonce [32]byte
	hex.Encode(cnonce[:], raw[:])
	var ncBuf [8]byte
	nc := appendNC(ncBuf[:0], e.nc.Add(1))
	return e.authorizationWith(method, uri, nc, cnonce[:], body), nil
}

// authorizationWith builds the header value with the given nc and cnonce.
func (e *entry) authorizationWith(method, uri string, nc, cnonce, body []byte) string {
	var respBuf [64]byte
	resp := e.appendResponse(respBuf[:0], method, uri, nc, cnonce, body)

	var b strings.Builder
	b.Grow(len(e.head) + len(uri) + len(resp) + len(e.tail) + 80)
	b.WriteString(e.head)
	writeQuoted(&b, uri)
	b.WriteString(`", response="`)
	b.Write(resp)
	b.WriteByte('"')
	if e.qop != "" {
		b.WriteString(", qop=")
		b.WriteString(e.qop)
		b.WriteString(", nc=")
		b.Write(nc)
		b.WriteString(`, cnonce="`)
		b.Write(cnonce)
		b.WriteByte('"')
	}
	b.WriteString(e.tail)
	return b.String()
}

// computeResponse returns the request-digest for the given challenge with a
// fixed cnonce and nc. It exists for known-answer tests.
func computeResponse(username, password string, ch Challenge, method, uri, cnonce string, nc uint32, body []byte) (string, error) {
	e, err := newEntry(username, password, ch)
	if err != nil {
		return "", err
	}
	var ncBuf [8]byte
	return string(e.appendResponse(nil, method, uri, appendNC(ncBuf[:0], nc), []byte(cnonce), body)), nil
}
