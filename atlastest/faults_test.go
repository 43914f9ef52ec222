package atlastest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultStatusSkipCount(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	k := srv.AddAPIKey(org, "k")
	path := accessList(org, k.ID)
	require.Equal(t, http.StatusOK, c.get(orgKeys(org)).status) // warm the nonce

	srv.InjectFault(Fault{Method: "GET", Path: "/api/atlas/v2/orgs/*/apiKeys/*/accessList", Skip: 1, Count: 2, Status: 429, RetryAfter: "7"})
	assert.Equal(t, http.StatusOK, c.get(path).status, "skipped")
	r := c.get(path)
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "7", r.header.Get("Retry-After"))
	assert.Equal(t, "RATE_LIMITED", r.errorCode(t))
	assert.Equal(t, http.StatusTooManyRequests, c.get(path).status)
	assert.Equal(t, http.StatusOK, c.get(path).status, "exhausted")
	assert.Equal(t, http.StatusOK, c.get(orgKeys(org)).status, "other paths untouched")

	// Prefix match with a trailing '*', on the decoded path.
	require.NoError(t, srv.AddAccessListEntry(org, k.ID, "10.0.0.0/24"))
	srv.InjectFault(Fault{Path: "/api/atlas/v2/orgs/*/apiKeys/*/accessList/10.0.0.0*", Status: 503})
	r = c.get(path + "/10.0.0.0%2F24")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "SERVICE_UNAVAILABLE", r.errorCode(t))

	srv.InjectFault(Fault{Status: 500, Count: 5})
	srv.ClearFaults()
	assert.Equal(t, http.StatusOK, c.get(path).status)
	assert.Equal(t, 3, srv.Stats().FaultsInjected)

	log := srv.Requests()
	var faulted int
	for _, e := range log {
		if e.Fault {
			faulted++
		}
	}
	assert.Equal(t, 3, faulted)
}

func TestFaultLatency(t *testing.T) {
	srv, c := newServer(t)
	require.Equal(t, http.StatusOK, c.get(orgKeys(srv.OrgID())).status)
	srv.InjectFault(Fault{Latency: 80 * time.Millisecond})
	start := time.Now()
	assert.Equal(t, http.StatusOK, c.get(orgKeys(srv.OrgID())).status)
	assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)

	srv.SetLatency(40 * time.Millisecond)
	start = time.Now()
	c.get(orgKeys(srv.OrgID()))
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
	srv.SetLatency(0)

	// A client timeout cuts the latency short; Close does not wait it out.
	srv.InjectFault(Fault{Latency: time.Hour})
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 50 * time.Millisecond}
	defer hc.Transport.(*http.Transport).CloseIdleConnections()
	_, err := hc.Get(srv.URL + orgKeys(srv.OrgID()))
	assert.Error(t, err)
}

func TestCloseCutsLatencyShort(t *testing.T) {
	srv := NewServer()
	srv.SetLatency(time.Hour)
	hc := newHTTPClient(t)
	done := make(chan error, 1)
	go func() {
		res, err := hc.Get(srv.URL + "/api/atlas/v2/orgs")
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	srv.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	<-done
	srv.Close() // idempotent
}

func TestFaultDropConnection(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	require.Equal(t, http.StatusOK, c.get(orgKeys(org)).status)
	srv.InjectFault(Fault{Method: "GET", Path: "/api/atlas/v2/orgs/*", DropConnection: true})

	req, err := http.NewRequest("GET", srv.URL+orgKeys(org), nil)
	require.NoError(t, err)
	req.Header.Set("Accept", vendorMediaType)
	req.Header.Set("Authorization", c.sign.header("GET", orgKeys(org)))
	res, err := c.hc.Do(req)
	require.NoError(t, err, "headers arrive")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Contains(t, string(b), `{"links"`)
	assert.Equal(t, 1, srv.Stats().DroppedConnections)

	// The token endpoint is subject to faults too.
	srv.InjectFault(Fault{Path: "/api/oauth/token", Status: 503, RetryAfter: "1"})
	id, secret := srv.AddServiceAccount(org)
	r := tokenRequest(t, srv, c.hc, id, secret, url.Values{"grant_type": {"client_credentials"}})
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
}

func TestRequestLogAndRateHeaders(t *testing.T) {
	srv, c := newServer(t, WithRateLimit(5))
	org := srv.OrgID()
	k := srv.AddAPIKey(org, "k")
	require.NoError(t, srv.AddAccessListEntry(org, k.ID, "10.0.0.0/24"))
	srv.ResetRequests()

	r := c.get(accessList(org, k.ID) + "/10.0.0.0%2F24?pretty=false")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "5", r.header.Get("RateLimit-Limit"))
	rem, err := strconv.Atoi(r.header.Get("RateLimit-Remaining"))
	require.NoError(t, err)
	assert.Less(t, rem, 5)

	log := srv.Requests()
	require.Len(t, log, 2) // challenge + signed
	assert.Equal(t, "none", log[0].Auth)
	assert.Equal(t, http.StatusUnauthorized, log[0].Status)
	assert.Equal(t, "digest", log[1].Auth)
	assert.Equal(t, http.StatusOK, log[1].Status)
	assert.Equal(t, "GET", log[1].Method)
	assert.Equal(t, accessList(org, k.ID)+"/10.0.0.0%2F24", log[1].Path)
	assert.Equal(t, "pretty=false", log[1].Query)
	assert.Equal(t, vendorMediaType, log[1].Header.Get("Accept"))
	srv.ResetRequests()
	assert.Empty(t, srv.Requests())
	assert.GreaterOrEqual(t, srv.Stats().Requests, 2)
}

func TestMiddleware(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path)
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	srv, c := newServer(t, WithMiddleware(mw))
	require.Equal(t, http.StatusOK, c.get(orgKeys(srv.OrgID())).status)
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, 2)
}

func TestConcurrentClients(t *testing.T) {
	srv, _ := newServer(t)
	org := srv.OrgID()
	pub, priv := srv.AdminKey()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := keyClient(t, srv, pub, priv)
			for j := range 10 {
				r := c.post(orgKeys(org), createBody(fmt.Sprintf("k-%d-%d", i, j), "ORG_MEMBER"))
				if !assert.Equal(t, http.StatusOK, r.status, string(r.body)) {
					return
				}
				id := r.json(t)["id"].(string)
				assert.Equal(t, http.StatusOK, c.post(accessList(org, id), []map[string]string{{"cidrBlock": "10.9.0.0/16"}}).status)
				assert.Equal(t, http.StatusNoContent, c.post(groupKey(srv.ProjectID(), id), []map[string]any{{"roles": []string{"GROUP_READ_ONLY"}}}).status)
				assert.Equal(t, http.StatusOK, c.get(orgKeys(org)+"?itemsPerPage=5").status)
				_ = srv.Snapshot()
				_ = srv.Requests()
				if j%3 == 0 {
					assert.Equal(t, http.StatusNoContent, c.del(orgKey(org, id)).status)
				}
			}
		}()
	}
	// A shared signer: concurrent requests with out-of-order nc values.
	shared := keyClient(t, srv, pub, priv)
	require.Equal(t, http.StatusOK, shared.get(orgKeys(org)).status)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				assert.Equal(t, http.StatusOK, shared.get(orgKeys(org)+"?itemsPerPage=1").status)
			}
		}()
	}
	wg.Wait()
	keys := srv.Snapshot().Orgs[0].APIKeys
	assert.Len(t, keys, 1+8*10-8*4)
}

func TestFaultAfterHandling(t *testing.T) {
	srv, c := newServer(t)
	org := srv.OrgID()
	require.Equal(t, http.StatusOK, c.get(orgKeys(org)).status) // warm the nonce
	before := len(srv.Snapshot().Orgs[0].APIKeys)

	srv.InjectFault(Fault{Method: "POST", Path: "/api/atlas/v2/orgs/*/apiKeys", Status: 503, AfterHandling: true})
	r := c.post(orgKeys(org), map[string]any{"desc": "acted on", "roles": []string{"ORG_MEMBER"}})
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "the caller sees the fault")
	assert.Len(t, srv.Snapshot().Orgs[0].APIKeys, before+1, "but the key was created")

	srv.InjectFault(Fault{Method: "POST", Path: "/api/atlas/v2/orgs/*/apiKeys", Status: 503})
	assert.Equal(t, http.StatusServiceUnavailable, c.post(orgKeys(org), map[string]any{"desc": "refused", "roles": []string{"ORG_MEMBER"}}).status)
	assert.Len(t, srv.Snapshot().Orgs[0].APIKeys, before+1, "without AfterHandling nothing happens")
}
