package bench

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/seed243cb23e/atlaskeys"
)

// TestClients checks that every client works against the server, so that
// the benchmarks measure successful calls.
func TestClients(t *testing.T) {
	ctx := context.Background()
	for _, cc := range append(clients, withFetchAhead) {
		t.Run(cc.name, func(t *testing.T) {
			c := cc.new(t, srv)
			defer c.close()
			before := srv.Counts()
			if err := c.get(ctx, 3); err != nil {
				t.Fatal(err)
			}
			if err := c.create(ctx); err != nil {
				t.Fatal(err)
			}
			for _, per := range []int{100, 500} {
				n, err := c.list(ctx, per)
				if err != nil || n != NumKeys {
					t.Fatalf("list per=%d: %d keys, %v", per, n, err)
				}
			}
			d := srv.Counts().Sub(before)
			t.Logf("requests %d, 401s %d, body bytes %d", d.Requests, d.Unauthorized, d.BodyBytes)
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	c, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(PublicKey, "wrong"), atlaskeys.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.OrgAPIKeys.Get(context.Background(), OrgID, srv.KeyID(0))
	var apiErr *atlaskeys.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("got %v, want a 401", err)
	}
}

func TestNonceExpiry(t *testing.T) {
	uri := v2Prefix + OrgID + "/apiKeys"
	fresh := Authorization(srv.NewNonce(time.Now()), http.MethodGet, uri)
	if ok, _ := srv.VerifyHeader(fresh, http.MethodGet, uri); !ok {
		t.Fatal("fresh header refused")
	}
	if ok, _ := srv.VerifyHeader(fresh, http.MethodGet, uri+"?pageNum=2"); ok {
		t.Fatal("header accepted for another uri")
	}
	old := Authorization(srv.NewNonce(time.Now().Add(-NonceTTL-time.Second)), http.MethodGet, uri)
	if ok, stale := srv.VerifyHeader(old, http.MethodGet, uri); ok || !stale {
		t.Fatalf("expired nonce: ok=%v stale=%v, want false true", ok, stale)
	}
}
