package atlastest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type nonceState struct {
	issued time.Time
	ncs    map[uint32]struct{}
}

type tokenState struct {
	clientID string
	expires  time.Time
	revoked  bool
}

// principal is an authenticated caller: an API key or a service account.
type principal struct {
	key *apiKey
	sa  *serviceAccount
}

func (p principal) orgID() string {
	if p.key != nil {
		return p.key.orgID
	}
	return p.sa.orgID
}

func (p principal) orgRoles() []string {
	if p.key != nil {
		return p.key.orgRoles
	}
	return p.sa.orgRoles
}

func (p principal) groupRoles(groupID string) []string {
	if p.key != nil {
		return p.key.groupRoles[groupID]
	}
	return nil
}

func (p principal) id() string {
	if p.key != nil {
		return p.key.id
	}
	return p.sa.clientID
}

// authKind classifies the Authorization header for the request log.
func authKind(r *http.Request) string {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return "none"
	case hasPrefixFold(h, "Digest "):
		return "digest"
	case hasPrefixFold(h, "Bearer "):
		return "bearer"
	case hasPrefixFold(h, "Basic "):
		return "basic"
	}
	return "other"
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

const unauthorizedDetail = "You are not authorized for this resource."

// challengeLocked issues a fresh nonce and returns the 401 error carrying the
// WWW-Authenticate challenge, exactly in Atlas's format.
func (s *Server) challengeLocked(stale bool) *apiErr {
	nonce := base64.StdEncoding.EncodeToString(cryptoToken(24))
	now := s.cfg.now()
	if len(s.nonces) >= 1024 {
		for n, st := range s.nonces {
			if now.Sub(st.issued) > s.cfg.nonceLifetime {
				delete(s.nonces, n)
			}
		}
	}
	s.nonces[nonce] = &nonceState{issued: now, ncs: map[uint32]struct{}{}}
	s.stats.Challenges++
	if stale {
		s.stats.StaleChallenges++
	}
	e := newErr(http.StatusUnauthorized, "UNAUTHORIZED", unauthorizedDetail)
	e.header = map[string]string{"WWW-Authenticate": fmt.Sprintf(
		`Digest realm="%s", domain="", nonce="%s", algorithm=%s, qop="auth", stale=%t`,
		digestRealm, nonce, s.cfg.algorithm, stale)}
	return e
}

// authenticateLocked checks the request's credentials. stale reports a 401
// caused by an expired nonce.
func (s *Server) authenticateLocked(r *http.Request) (p principal, stale bool, err *apiErr) {
	h := r.Header.Get("Authorization")
	switch {
	case hasPrefixFold(h, "Digest "):
		return s.verifyDigestLocked(r, h[len("Digest "):])
	case hasPrefixFold(h, "Bearer "):
		p, err := s.verifyBearerLocked(strings.TrimSpace(h[len("Bearer "):]))
		return p, false, err
	}
	return principal{}, false, s.challengeLocked(false)
}

func (s *Server) newHash() hash.Hash {
	if s.cfg.algorithm == "SHA-256" {
		return sha256.New()
	}
	return md5.New()
}

func (s *Server) h(parts ...string) string {
	hh := s.newHash()
	hh.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(hh.Sum(nil))
}

func (s *Server) verifyDigestLocked(r *http.Request, raw string) (principal, bool, *apiErr) {
	ps := parseAuthParams(raw)
	user, realm, nonce, uri := ps["username"], ps["realm"], ps["nonce"], ps["uri"]
	resp, qop, ncStr, cnonce := ps["response"], ps["qop"], ps["nc"], ps["cnonce"]
	if user == "" || nonce == "" || uri == "" || resp == "" || cnonce == "" || realm != digestRealm ||
		!strings.EqualFold(qop, "auth") || len(ncStr) != 8 {
		return principal{}, false, s.challengeLocked(false)
	}
	if alg, ok := ps["algorithm"]; ok && !strings.EqualFold(alg, s.cfg.algorithm) {
		return principal{}, false, s.challengeLocked(false)
	}
	nc, perr := strconv.ParseUint(ncStr, 16, 32)
	if perr != nil || nc == 0 {
		return principal{}, false, s.challengeLocked(false)
	}
	// The uri must be the request-target exactly as sent (raw, with %2F).
	if uri != r.RequestURI {
		return principal{}, false, s.challengeLocked(false)
	}
	k := s.st.byPublic[user]
	if k == nil {
		return principal{}, false, s.challengeLocked(false)
	}
	ha1 := s.h(user, digestRealm, k.privateKey)
	ha2 := s.h(r.Method, uri)
	want := s.h(ha1, nonce, ncStr, cnonce, "auth", ha2)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(resp)), []byte(want)) != 1 {
		return principal{}, false, s.challengeLocked(false)
	}
	// The credentials are right; now the nonce.
	ns := s.nonces[nonce]
	if ns == nil || s.cfg.now().Sub(ns.issued) > s.cfg.nonceLifetime {
		delete(s.nonces, nonce)
		return principal{}, true, s.challengeLocked(true)
	}
	if _, used := ns.ncs[uint32(nc)]; used {
		s.stats.ReplayedNonceCounts++
		return principal{}, false, s.challengeLocked(false)
	}
	ns.ncs[uint32(nc)] = struct{}{}
	s.stats.DigestAuthenticated++
	s.touchAccessListLocked(k, r)
	return principal{key: k}, false, nil
}

// touchAccessListLocked updates the usage fields of the key's access-list
// entries that contain the caller's address.
func (s *Server) touchAccessListLocked(k *apiKey, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return
	}
	a = a.Unmap()
	for _, e := range k.access {
		if e.prefix.Contains(a) {
			e.count++
			e.lastUsed = s.cfg.now().UTC()
			e.lastUsedAddress = a.String()
		}
	}
}

func (s *Server) verifyBearerLocked(tok string) (principal, *apiErr) {
	ts := s.tokens[tok]
	if ts == nil || ts.revoked || !s.cfg.now().Before(ts.expires) {
		e := newErr(http.StatusUnauthorized, "UNAUTHORIZED", unauthorizedDetail)
		e.header = map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}
		s.stats.Challenges++
		return principal{}, e
	}
	sa := s.st.accounts[ts.clientID]
	if sa == nil {
		return principal{}, newErr(http.StatusUnauthorized, "UNAUTHORIZED", unauthorizedDetail)
	}
	s.stats.BearerAuthenticated++
	return principal{sa: sa}, nil
}

// parseAuthParams parses the comma-separated key=value list of a Digest
// header, values quoted (with backslash escapes) or not.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == ',' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' {
			i++
		}
		key := strings.ToLower(strings.TrimSpace(s[start:i]))
		if i >= len(s) || s[i] != '=' {
			continue
		}
		i++ // '='
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(s) && s[i] != ',' {
				val.WriteByte(s[i])
				i++
			}
		}
		if key != "" {
			out[key] = strings.TrimSpace(val.String())
		}
	}
	return out
}

// ---- OAuth2 client credentials (service accounts) ----------------------------

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuth(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, status, "application/json", v, respOpts{})
}

func clientCreds(r *http.Request) (id, secret string, ok bool) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret, true
	}
	id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	return id, secret, id != ""
}

func (s *Server) parseOAuthForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuth(w, http.StatusMethodNotAllowed, oauthError{Error: "invalid_request", Description: "POST required"})
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuth(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "malformed form body"})
		return false
	}
	return true
}

// tokenEndpoint serves POST /api/oauth/token.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.TokenRequests++
	s.mu.Unlock()
	if !s.parseOAuthForm(w, r) {
		return
	}
	id, secret, ok := clientCreds(r)
	if !ok {
		writeOAuth(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "client authentication failed"})
		return
	}
	s.mu.Lock()
	now := s.cfg.now()
	hits := s.tokenHits[id][:0:0]
	for _, t := range s.tokenHits[id] {
		if now.Sub(t) < s.cfg.tokenPer {
			hits = append(hits, t)
		}
	}
	if len(hits) >= s.cfg.tokenRate {
		s.tokenHits[id] = hits
		wait := s.cfg.tokenPer
		if len(hits) > 0 {
			wait = hits[0].Add(s.cfg.tokenPer).Sub(now)
		}
		s.stats.TokenRateLimited++
		s.mu.Unlock()
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		e := newErr(http.StatusTooManyRequests, "RATE_LIMITED", "Too many token requests for this client.")
		e.header = map[string]string{"Retry-After": strconv.Itoa(secs)}
		writeAPIError(w, e, respOpts{})
		return
	}
	s.tokenHits[id] = append(hits, now)
	sa := s.st.accounts[id]
	if sa == nil || subtle.ConstantTimeCompare([]byte(sa.secret), []byte(secret)) != 1 {
		s.mu.Unlock()
		writeOAuth(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "client authentication failed"})
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		s.mu.Unlock()
		writeOAuth(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "grant_type is required"})
		return
	default:
		s.mu.Unlock()
		writeOAuth(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type"})
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(cryptoToken(32))
	s.tokens[tok] = &tokenState{clientID: id, expires: now.Add(s.cfg.tokenLifetime)}
	s.stats.TokensIssued++
	s.mu.Unlock()
	writeOAuth(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(math.Ceil(s.cfg.tokenLifetime.Seconds())),
	})
}

// revokeEndpoint serves POST /api/oauth/revoke (RFC 7009).
func (s *Server) revokeEndpoint(w http.ResponseWriter, r *http.Request) {
	if !s.parseOAuthForm(w, r) {
		return
	}
	id, secret, ok := clientCreds(r)
	s.mu.Lock()
	sa := s.st.accounts[id]
	if !ok || sa == nil || subtle.ConstantTimeCompare([]byte(sa.secret), []byte(secret)) != 1 {
		s.mu.Unlock()
		writeOAuth(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "client authentication failed"})
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		s.mu.Unlock()
		writeOAuth(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "token is required"})
		return
	}
	if ts := s.tokens[tok]; ts != nil && ts.clientID == id {
		ts.revoked = true
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
