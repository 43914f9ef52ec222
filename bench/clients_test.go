package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	forksdigest "github.com/mongodb-forks/digest"
	"github.com/seed243cb23e/atlaskeys"
	"go.mongodb.org/atlas/mongodbatlas"
)

// getKeys is how many distinct keys the get benchmarks cycle through.
const getKeys = 64

// client is one way of calling the server; every benchmark case runs each.
type client struct {
	get    func(ctx context.Context, i int) error // get seeded key i % getKeys
	create func(ctx context.Context) error
	// list walks all keys of the org with per items a page and returns how
	// many it saw. fetchAhead is honoured only where the client has it.
	list  func(ctx context.Context, per int) (int, error)
	close func()
}

type clientCtor struct {
	name string
	new  func(tb testing.TB, s *Server) *client
}

// clients are the three clients compared in every case.
var clients = []clientCtor{
	{"atlaskeys", func(tb testing.TB, s *Server) *client { return newAtlaskeys(tb, s, 0) }},
	{"mongodbatlas", newMongodbatlas},
	{"floor", newFloor},
}

// withFetchAhead is the atlaskeys variant used by the listing cases.
var withFetchAhead = clientCtor{"atlaskeys-fa4", func(tb testing.TB, s *Server) *client { return newAtlaskeys(tb, s, 4) }}

var createReq = struct {
	desc  string
	roles []string
}{"benchmark key", []string{"ORG_MEMBER"}}

// newAtlaskeys is this library, configured as its README shows.
func newAtlaskeys(tb testing.TB, s *Server, fetchAhead int) *client {
	c, err := atlaskeys.NewClient(atlaskeys.WithDigestAuth(PublicKey, PrivateKey), atlaskeys.WithBaseURL(s.URL))
	if err != nil {
		tb.Fatal(err)
	}
	return &client{
		get: func(ctx context.Context, i int) error {
			k, _, err := c.OrgAPIKeys.Get(ctx, OrgID, s.KeyID(i%getKeys))
			if err == nil && k.ID == "" {
				err = fmt.Errorf("atlaskeys: empty key")
			}
			return err
		},
		create: func(ctx context.Context) error {
			k, _, err := c.OrgAPIKeys.Create(ctx, OrgID, &atlaskeys.CreateAPIKeyRequest{Desc: createReq.desc, Roles: createReq.roles})
			if err == nil && k.PrivateKey.IsZero() {
				err = fmt.Errorf("atlaskeys: created key without private key")
			}
			return err
		},
		list: func(ctx context.Context, per int) (int, error) {
			n := 0
			for k, err := range c.OrgAPIKeys.All(ctx, OrgID, &atlaskeys.ListOptions{ItemsPerPage: per, FetchAhead: fetchAhead}) {
				if err != nil {
					return n, err
				}
				if k.ID != "" {
					n++
				}
			}
			return n, nil
		},
		close: func() { _ = c.Close(context.Background()) },
	}
}

// newMongodbatlas is go.mongodb.org/atlas v0.38.0 with
// github.com/mongodb-forks/digest v1.1.0, set up as their READMEs show:
// digest.NewTransport(pub, priv).Client() (http.DefaultTransport beneath),
// mongodbatlas.New(client, mongodbatlas.SetBaseURL(...)). It calls the
// legacy /api/atlas/v1.0 paths.
func newMongodbatlas(tb testing.TB, s *Server) *client {
	t := forksdigest.NewTransport(PublicKey, PrivateKey)
	hc, err := t.Client()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := mongodbatlas.New(hc, mongodbatlas.SetBaseURL(s.URL+"/"))
	if err != nil {
		tb.Fatal(err)
	}
	return &client{
		get: func(ctx context.Context, i int) error {
			k, _, err := c.APIKeys.Get(ctx, OrgID, s.KeyID(i%getKeys))
			if err == nil && k.ID == "" {
				err = fmt.Errorf("mongodbatlas: empty key")
			}
			return err
		},
		create: func(ctx context.Context) error {
			k, _, err := c.APIKeys.Create(ctx, OrgID, &mongodbatlas.APIKeyInput{Desc: createReq.desc, Roles: createReq.roles})
			if err == nil && k.PrivateKey == "" {
				err = fmt.Errorf("mongodbatlas: created key without private key")
			}
			return err
		},
		list: func(ctx context.Context, per int) (int, error) {
			n := 0
			opts := &mongodbatlas.ListOptions{PageNum: 1, ItemsPerPage: per, IncludeCount: true}
			for {
				keys, resp, err := c.APIKeys.List(ctx, OrgID, opts)
				if err != nil {
					return n, err
				}
				for i := range keys {
					if keys[i].ID != "" {
						n++
					}
				}
				if resp.IsLastPage() {
					return n, nil
				}
				opts.PageNum++
			}
		},
		close: func() { hc.CloseIdleConnections() },
	}
}

// floor is the least any client can do: plain net/http over keep-alive
// connections, an Authorization header computed once per request target
// before the clock starts (the server checks nonce and request-digest but
// does not track nc, so a header stays valid for the nonce's lifetime),
// and encoding/json into a small struct.
type floor struct {
	hc              *http.Client
	getURL, getAuth [getKeys]string
	postURL, post   string
	pages           map[int][]floorPage // per -> pages
}

type floorPage struct{ url, auth string }

var (
	acceptV2      = []string{V2Accept}
	contentTypeV2 = []string{V2Accept}
)

type smallKey struct {
	ID         string `json:"id"`
	PublicKey  string `json:"publicKey"`
	PrivateKey string `json:"privateKey"`
}

func (k *smallKey) id() string { return k.ID }

// modelKey has the shape of atlaskeys.APIKey (roles and links included): the
// "floor-model" variant decodes into it, to show how much of atlaskeys's
// distance to the floor is decoding the whole document rather than three
// fields.
type modelKey struct {
	ID         string `json:"id"`
	Desc       string `json:"desc"`
	PublicKey  string `json:"publicKey"`
	PrivateKey string `json:"privateKey"`
	Roles      []struct {
		OrgID    string `json:"orgId"`
		GroupID  string `json:"groupId"`
		RoleName string `json:"roleName"`
	} `json:"roles"`
	Links []struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	} `json:"links"`
}

func (k *modelKey) id() string { return k.ID }

type smallPage struct {
	Results    []smallKey `json:"results"`
	TotalCount int        `json:"totalCount"`
}

func newFloor(tb testing.TB, s *Server) *client {
	return newFloorDecoding(tb, s, func() interface{ id() string } { return new(smallKey) })
}

// newFloorModel is the floor decoding a get into the full key document.
func newFloorModel(tb testing.TB, s *Server) *client {
	return newFloorDecoding(tb, s, func() interface{ id() string } { return new(modelKey) })
}

func newFloorDecoding(tb testing.TB, s *Server, newKey func() interface{ id() string }) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	f := &floor{hc: &http.Client{Transport: tr}, pages: map[int][]floorPage{}}
	nonce := fetchNonce(tb, f.hc, s.URL+v2Prefix+OrgID+"/apiKeys")
	for i := range f.getURL {
		uri := v2Prefix + OrgID + "/apiKeys/" + s.KeyID(i)
		f.getURL[i], f.getAuth[i] = s.URL+uri, Authorization(nonce, http.MethodGet, uri)
	}
	f.postURL = s.URL + v2Prefix + OrgID + "/apiKeys"
	f.post = Authorization(nonce, http.MethodPost, v2Prefix+OrgID+"/apiKeys")
	for _, per := range []int{100, 500} {
		for p := 1; (p-1)*per < NumKeys; p++ {
			uri := v2Prefix + OrgID + "/apiKeys?pageNum=" + strconv.Itoa(p) + "&itemsPerPage=" + strconv.Itoa(per)
			f.pages[per] = append(f.pages[per], floorPage{s.URL + uri, Authorization(nonce, http.MethodGet, uri)})
		}
	}
	body, _ := json.Marshal(map[string]any{"desc": createReq.desc, "roles": createReq.roles})
	return &client{
		get: func(ctx context.Context, i int) error {
			k := newKey()
			if err := f.do(ctx, http.MethodGet, f.getURL[i%getKeys], f.getAuth[i%getKeys], nil, k); err != nil {
				return err
			}
			if k.id() == "" {
				return fmt.Errorf("floor: empty key")
			}
			return nil
		},
		create: func(ctx context.Context) error {
			var k smallKey
			if err := f.do(ctx, http.MethodPost, f.postURL, f.post, body, &k); err != nil {
				return err
			}
			if k.PrivateKey == "" {
				return fmt.Errorf("floor: created key without private key")
			}
			return nil
		},
		list: func(ctx context.Context, per int) (int, error) {
			n := 0
			for _, p := range f.pages[per] {
				var page smallPage
				if err := f.do(ctx, http.MethodGet, p.url, p.auth, nil, &page); err != nil {
					return n, err
				}
				n += len(page.Results)
				if n >= page.TotalCount {
					break
				}
			}
			return n, nil
		},
		close: func() { tr.CloseIdleConnections() },
	}
}

func (f *floor) do(ctx context.Context, method, url, auth string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header["Authorization"] = []string{auth}
	req.Header["Accept"] = acceptV2
	if body != nil {
		req.Header["Content-Type"] = contentTypeV2
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("floor: %s %s: %s", method, url, resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(out)
	_, _ = io.Copy(io.Discard, resp.Body)
	return err
}

// fetchNonce asks the server for a challenge and returns its nonce.
func fetchNonce(tb testing.TB, hc *http.Client, url string) string {
	resp, err := hc.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h := resp.Header.Get("Www-Authenticate")
	_, rest, ok := strings.Cut(h, `nonce="`)
	nonce, _, ok2 := strings.Cut(rest, `"`)
	if resp.StatusCode != http.StatusUnauthorized || !ok || !ok2 {
		tb.Fatalf("no digest challenge: %s %q", resp.Status, h)
	}
	return nonce
}
