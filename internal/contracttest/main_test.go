package contracttest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/seed243cb23e/atlaskeys"
	"github.com/seed243cb23e/atlaskeys/atlastest"
	"github.com/seed243cb23e/atlaskeys/internal/digest"
)

var (
	contract   *Contract // nil when the spec was not found
	specLooked string    // where the spec was looked for
	global     = &Tally{}
	ran        atomic.Bool // a test validated traffic into global
)

func TestMain(m *testing.M) {
	path, looked := findSpec()
	specLooked = looked
	if path == "" {
		code := m.Run()
		fmt.Printf("contract: SKIP spec not found at %s\n", looked)
		os.Exit(code)
	}
	c, err := loadContract(path)
	if err != nil {
		fmt.Printf("contract: FAIL %v\n", err)
		os.Exit(1)
	}
	contract = c
	code := m.Run()

	n := global.Counts()
	for _, v := range n.Violations {
		fmt.Printf("contract: violation: %s\n", v)
	}
	if len(n.Violations) > 0 {
		causes := map[string]int{}
		for _, v := range n.Violations {
			causes[v.Cause()]++
		}
		fmt.Printf("contract: the %d violations have %d distinct cause(s):\n", len(n.Violations), len(causes))
		for _, c := range slices.Sorted(maps.Keys(causes)) {
			fmt.Printf("contract:   %4dx %s\n", causes[c], c)
		}
	}
	for _, d := range Deviations {
		fmt.Printf("contract: documented deviation: %s\n", d)
	}
	fmt.Printf("contract: validated %d requests and %d responses against %s, %d violations (%d digest probes judged without body, %d non-API requests not validated)\n",
		n.Requests, n.Responses, specName, len(n.Violations), n.Probes, n.NonAPI)
	if ran.Load() {
		ops := global.Operations()
		fmt.Printf("contract: %d of %d operations exercised; statuses seen:", len(ops), contract.operations())
		for _, id := range slices.Sorted(maps.Keys(ops)) {
			fmt.Printf(" %s%v", id, ops[id])
		}
		fmt.Println()
		if len(n.Violations) > 0 || n.Requests == 0 || n.Responses == 0 {
			fmt.Printf("contract: FAIL (want 0 violations and validated requests and responses > 0)\n")
			code = 1
		}
	}
	os.Exit(code)
}

// fixture is one atlastest server behind the validating middleware, and a
// client authenticated with its admin key.
type fixture struct {
	t       *testing.T
	srv     *atlastest.Server
	c       *atlaskeys.Client
	local   *Tally
	org     string
	project string
}

func requireContract(t *testing.T) {
	t.Helper()
	if contract == nil {
		t.Skipf("contract: SKIP spec not found at %s", specLooked)
	}
}

func newFixture(t *testing.T, opts ...atlastest.Option) *fixture {
	t.Helper()
	requireContract(t)
	ran.Store(true)
	local := &Tally{}
	// Registered first, so it runs last: after the server has closed and
	// every handler has finished.
	t.Cleanup(func() {
		n := local.Counts()
		for _, v := range n.Violations {
			t.Errorf("contract violation: %s", v)
		}
		if n.Requests == 0 || n.Responses == 0 {
			t.Errorf("contract: validated %d requests and %d responses; want both > 0", n.Requests, n.Responses)
		}
	})
	srv := atlastest.NewServer(append([]atlastest.Option{atlastest.WithMiddleware(contract.Middleware(global, local))}, opts...)...)
	t.Cleanup(srv.Close)
	pub, priv := srv.AdminKey()
	f := &fixture{t: t, srv: srv, local: local, org: srv.OrgID(), project: srv.ProjectID()}
	f.c = f.client(pub, priv)
	return f
}

// client returns a client of the fixture's server with the given key.
func (f *fixture) client(pub, priv string, opts ...atlaskeys.Option) *atlaskeys.Client {
	f.t.Helper()
	c, err := atlaskeys.NewClient(append([]atlaskeys.Option{
		atlaskeys.WithDigestAuth(pub, priv), atlaskeys.WithBaseURL(f.srv.URL),
	}, opts...)...)
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// raw sends a request the client would refuse to build, signed with digest
// credentials, and returns the status and body.
func (f *fixture) raw(pub, priv, method, path, body string) (int, string) {
	f.t.Helper()
	return rawRequest(f.t, f.srv.URL, pub, priv, method, path, body)
}

func rawRequest(t *testing.T, base, pub, priv, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Accept", vendorJSON)
	if body != "" {
		req.Header.Set("Content-Type", vendorJSON)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: digest.NewTransport(pub, priv, tr)}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
