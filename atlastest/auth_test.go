package atlastest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var challengeRE = regexp.MustCompile(`^Digest realm="MMS Public API", domain="", nonce="([A-Za-z0-9+/=]+)", algorithm=(MD5|SHA-256), qop="auth", stale=(true|false)$`)

func TestDigestChallengeExactFormat(t *testing.T) {
	srv, c := newServer(t)
	r := c.once("GET", orgKeys(srv.OrgID()), nil, "")
	require.Equal(t, http.StatusUnauthorized, r.status)
	m := challengeRE.FindStringSubmatch(r.header.Get("WWW-Authenticate"))
	require.NotNil(t, m, r.header.Get("WWW-Authenticate"))
	assert.Equal(t, "MD5", m[2])
	assert.Equal(t, "false", m[3])
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	body := r.json(t)
	assert.Equal(t, "You are not authorized for this resource.", body["detail"])
	assert.EqualValues(t, 401, body["error"])
	assert.Equal(t, "UNAUTHORIZED", body["errorCode"])
	assert.Equal(t, "Unauthorized", body["reason"])
	assert.Equal(t, 1, srv.Stats().Challenges)

	// Signed with the nonce: one round trip from then on.
	c.sign.learn(r.header.Get("WWW-Authenticate"))
	for range 3 {
		assert.Equal(t, http.StatusOK, c.get(orgKeys(srv.OrgID())).status)
	}
	assert.Equal(t, 1, srv.Stats().Challenges)
	assert.Equal(t, 3, srv.Stats().DigestAuthenticated)
}

func TestDigestSHA256(t *testing.T) {
	srv, c := newServer(t, WithDigestAlgorithm("SHA-256"))
	r := c.get(orgKeys(srv.OrgID()))
	assert.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Empty(t, srv.Requests()[0].Header.Get("Authorization")) // first leg unsigned
	m := challengeRE.FindStringSubmatch(c.once("GET", orgKeys(srv.OrgID()), nil, "").header.Get("WWW-Authenticate"))
	require.NotNil(t, m)
	assert.Equal(t, "SHA-256", m[2])

	// An MD5 response to a SHA-256 server is refused.
	md := &signer{user: c.sign.user, pass: c.sign.pass}
	md.learn(strings.Replace(c.once("GET", "/api/atlas/v2/x", nil, "").header.Get("WWW-Authenticate"), "SHA-256", "MD5", 1))
	r = c.once("GET", orgKeys(srv.OrgID()), nil, md.header("GET", orgKeys(srv.OrgID())))
	assert.Equal(t, http.StatusUnauthorized, r.status)

	_, err := NewServerAt("", WithDigestAlgorithm("SHA-512"))
	assert.Error(t, err)
}

func TestDigestRejections(t *testing.T) {
	srv, c := newServer(t)
	path := orgKeys(srv.OrgID())
	require.Equal(t, http.StatusOK, c.get(path).status)

	// Wrong password.
	bad := &signer{user: c.sign.user, pass: "wrong"}
	bad.learn(c.once("GET", path, nil, "").header.Get("WWW-Authenticate"))
	r := c.once("GET", path, nil, bad.header("GET", path))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.header.Get("WWW-Authenticate"), "stale=false")

	// Unknown user.
	nobody := &signer{user: "zzzzzzzz", pass: "x"}
	nobody.learn(c.once("GET", path, nil, "").header.Get("WWW-Authenticate"))
	assert.Equal(t, http.StatusUnauthorized, c.once("GET", path, nil, nobody.header("GET", path)).status)

	// Replayed nc is refused; out-of-order nc is fine.
	c.sign.mu.Lock()
	h5 := c.sign.headerWith("GET", path, "00000050")
	h3 := c.sign.headerWith("GET", path, "00000030")
	c.sign.mu.Unlock()
	assert.Equal(t, http.StatusOK, c.once("GET", path, nil, h5).status)
	assert.Equal(t, http.StatusOK, c.once("GET", path, nil, h3).status)
	r = c.once("GET", path, nil, h5)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.header.Get("WWW-Authenticate"), "stale=false")
	assert.Equal(t, 1, srv.Stats().ReplayedNonceCounts)

	// The uri must be the raw request-target: signing the decoded path fails.
	k := srv.AddAPIKey(srv.OrgID(), "k")
	require.NoError(t, srv.AddAccessListEntry(srv.OrgID(), k.ID, "10.0.0.0/24"))
	raw := accessList(srv.OrgID(), k.ID) + "/10.0.0.0%2F24"
	decoded := accessList(srv.OrgID(), k.ID) + "/10.0.0.0/24"
	assert.Equal(t, http.StatusUnauthorized, c.once("GET", raw, nil, c.sign.header("GET", decoded)).status)
	assert.Equal(t, http.StatusOK, c.once("GET", raw, nil, c.sign.header("GET", raw)).status)

	// Basic auth is not accepted on the API.
	r = c.once("GET", path, nil, "Basic eDp5")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.NotEmpty(t, r.header.Get("WWW-Authenticate"))
}

func TestStaleNonces(t *testing.T) {
	srv, c := newServer(t)
	path := orgKeys(srv.OrgID())
	require.Equal(t, http.StatusOK, c.get(path).status)

	srv.ExpireNonces()
	r := c.once("GET", path, nil, c.sign.header("GET", path))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	m := challengeRE.FindStringSubmatch(r.header.Get("WWW-Authenticate"))
	require.NotNil(t, m)
	assert.Equal(t, "true", m[3])
	log := srv.Requests()
	assert.True(t, log[len(log)-1].Stale)
	assert.Equal(t, 1, srv.Stats().StaleChallenges)
	c.sign.learn(r.header.Get("WWW-Authenticate"))
	assert.Equal(t, http.StatusOK, c.once("GET", path, nil, c.sign.header("GET", path)).status)

	// Lifetime.
	srv2, c2 := newServer(t, WithNonceLifetime(50*time.Millisecond))
	p2 := orgKeys(srv2.OrgID())
	require.Equal(t, http.StatusOK, c2.get(p2).status)
	time.Sleep(80 * time.Millisecond)
	r = c2.once("GET", p2, nil, c2.sign.header("GET", p2))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.header.Get("WWW-Authenticate"), "stale=true")
}

func TestMediaTypes(t *testing.T) {
	srv, c := newServer(t)
	path := orgKeys(srv.OrgID())
	for _, accept := range []string{"", "application/json", "application/vnd.atlas.2025-03-12+json", "*/*"} {
		c.accept = accept
		r := c.get(path)
		assert.Equal(t, http.StatusNotAcceptable, r.status, "Accept %q", accept)
		assert.Equal(t, "INVALID_VERSION_DATE", r.errorCode(t))
		assert.Equal(t, "Invalid accept header or version date.", r.json(t)["detail"])
	}
	c.accept = "application/json, application/vnd.atlas.2023-01-01+json; charset=utf-8"
	assert.Equal(t, http.StatusOK, c.get(path).status)
	c.accept = vendorMediaType

	send := func(ct string) resp {
		uri := path
		r := c.once("GET", path, nil, "") // fresh challenge
		c.sign.learn(r.header.Get("WWW-Authenticate"))
		req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"desc":"d","roles":["ORG_MEMBER"]}`))
		require.NoError(t, err)
		req.Header.Set("Accept", vendorMediaType)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", c.sign.header("POST", uri))
		res, err := c.hc.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		return resp{status: res.StatusCode, header: res.Header}
	}
	assert.Equal(t, http.StatusOK, send("application/json").status)
	assert.Equal(t, http.StatusOK, send("application/vnd.atlas.2023-01-01+json;charset=utf-8").status)
	assert.Equal(t, http.StatusUnsupportedMediaType, send("text/plain").status)
	assert.Equal(t, http.StatusUnsupportedMediaType, send("").status)
	assert.Equal(t, http.StatusUnsupportedMediaType, send("application/vnd.atlas.2025-03-12+json").status)
}

func tokenRequest(t *testing.T, srv *Server, hc *http.Client, id, secret string, form url.Values) resp {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/api/oauth/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	res, err := hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func TestServiceAccountTokens(t *testing.T) {
	srv := NewServer(WithTokenLifetime(150 * time.Millisecond))
	t.Cleanup(srv.Close)
	hc := newHTTPClient(t)
	id, secret := srv.AddServiceAccount(srv.OrgID(), "ORG_OWNER")
	assert.Regexp(t, `^mdb_sa_id_[a-f0-9]{24}$`, id)
	assert.True(t, strings.HasPrefix(secret, "mdb_sa_sk_"))
	cc := url.Values{"grant_type": {"client_credentials"}}

	r := tokenRequest(t, srv, hc, id, secret, cc)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.Unmarshal(r.body, &tok))
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.Equal(t, 1, tok.ExpiresIn)

	c := &client{t: t, srv: srv, hc: hc, bearer: tok.AccessToken, accept: vendorMediaType}
	r = c.post(orgKeys(srv.OrgID()), createBody("by sa", "ORG_MEMBER"))
	assert.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "bearer", srv.Requests()[len(srv.Requests())-1].Auth)

	// Expiry.
	time.Sleep(200 * time.Millisecond)
	r = c.get(orgKeys(srv.OrgID()))
	assert.Equal(t, http.StatusUnauthorized, r.status)

	// Form credentials and revoke.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	r = tokenRequest(t, srv, hc, "", "", form)
	require.Equal(t, http.StatusOK, r.status)
	require.NoError(t, json.Unmarshal(r.body, &tok))
	c.bearer = tok.AccessToken
	assert.Equal(t, http.StatusOK, c.get(orgKeys(srv.OrgID())).status)
	req, _ := http.NewRequest("POST", srv.URL+"/api/oauth/revoke", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := hc.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, http.StatusUnauthorized, c.get(orgKeys(srv.OrgID())).status)

	// Wrong secret, wrong grant.
	r = tokenRequest(t, srv, hc, id, "nope", cc)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "invalid_client", r.json(t)["error"])
	r = tokenRequest(t, srv, hc, id, secret, url.Values{"grant_type": {"password"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "unsupported_grant_type", r.json(t)["error"])
	assert.Equal(t, 4, srv.Stats().TokenRequests)
	assert.Equal(t, 2, srv.Stats().TokensIssued)
}

func TestServiceAccountRolesAndRateLimit(t *testing.T) {
	srv := NewServer(WithTokenRateLimit(2, time.Minute))
	t.Cleanup(srv.Close)
	hc := newHTTPClient(t)
	id, secret := srv.AddServiceAccount(srv.OrgID()) // ORG_MEMBER
	cc := url.Values{"grant_type": {"client_credentials"}}
	r := tokenRequest(t, srv, hc, id, secret, cc)
	require.Equal(t, http.StatusOK, r.status)
	c := &client{t: t, srv: srv, hc: hc, bearer: r.json(t)["access_token"].(string), accept: vendorMediaType}
	assert.Equal(t, http.StatusOK, c.get(orgKeys(srv.OrgID())).status)
	assert.Equal(t, http.StatusForbidden, c.post(orgKeys(srv.OrgID()), createBody("x", "ORG_MEMBER")).status)

	require.Equal(t, http.StatusOK, tokenRequest(t, srv, hc, id, secret, cc).status)
	r = tokenRequest(t, srv, hc, id, secret, cc)
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, ra >= 1 && ra <= 60, ra)
	assert.Equal(t, "RATE_LIMITED", r.errorCode(t))
	assert.Equal(t, 1, srv.Stats().TokenRateLimited)
}
