package atlastest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	addr            string
	nonceLifetime   time.Duration
	algorithm       string
	tokenLifetime   time.Duration
	tokenRate       int
	tokenPer        time.Duration
	rateLimit       int
	middleware      []func(http.Handler) http.Handler
	seed            *int64
	roleErrorStatus int
	now             func() time.Time
}

// WithNonceLifetime sets how long a digest nonce stays valid (default 5m).
// A request signed with an older nonce gets a 401 challenge with stale=true.
func WithNonceLifetime(d time.Duration) Option { return func(c *config) { c.nonceLifetime = d } }

// WithDigestAlgorithm sets the digest algorithm: "MD5" (Atlas's, the default)
// or "SHA-256".
func WithDigestAlgorithm(alg string) Option { return func(c *config) { c.algorithm = alg } }

// WithTokenLifetime sets the lifetime of service-account access tokens
// (default 1h, as Atlas documents).
func WithTokenLifetime(d time.Duration) Option { return func(c *config) { c.tokenLifetime = d } }

// WithTokenRateLimit allows n token requests per client ID in every window of
// length per (default 10 per minute); further requests get 429 with Retry-After.
func WithTokenRateLimit(n int, per time.Duration) Option {
	return func(c *config) { c.tokenRate, c.tokenPer = n, per }
}

// WithRateLimit sets the value reported in the RateLimit-Limit header (default
// 100). RateLimit-Remaining counts down per caller in one-minute windows. The
// limit is informational: the server never refuses a request because of it
// (use InjectFault for 429s).
func WithRateLimit(limit int) Option { return func(c *config) { c.rateLimit = limit } }

// WithMiddleware wraps the whole handler, for example to validate every
// request and response against the OpenAPI contract. Several middlewares
// nest in the order given (the first is outermost).
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middleware = append(c.middleware, mw) }
}

// WithSeed makes ids, public keys, private keys, client ids and secrets
// deterministic. Nonces and tokens stay random.
func WithSeed(seed int64) Option { return func(c *config) { c.seed = &seed } }

// WithAddr sets the listen address (default "127.0.0.1:0", a random port).
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithRoleErrorStatus sets the status for a caller that lacks the role an
// operation needs (default 403, as the spec declares). Real Atlas has been seen
// answering 401 USER_UNAUTHORIZED instead; pass 401 to test that behaviour.
func WithRoleErrorStatus(status int) Option { return func(c *config) { c.roleErrorStatus = status } }

// Key is an organization API key's credentials, as returned by AddAPIKey.
type Key struct {
	ID         string // 24 hex digits
	PublicKey  string // the digest username
	PrivateKey string // the digest password
}

// Server is an in-memory fake of the Atlas Admin API v2 Programmatic API Keys
// resource, listening on a loopback port. It is safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234", with no trailing slash.
	URL string

	cfg      config
	listener net.Listener
	http     *http.Server
	handler  http.Handler
	serveErr chan error

	lifeMu  sync.Mutex
	closed  bool
	active  sync.WaitGroup
	closeCh chan struct{}

	rngMu sync.Mutex
	rng   *mrand.Rand // nil: crypto/rand

	mu        sync.Mutex
	st        *state
	faults    []*faultState
	latency   time.Duration
	nonces    map[string]*nonceState
	tokens    map[string]*tokenState
	tokenHits map[string][]time.Time
	rateWin   map[string]*rateWindow
	requests  []Request
	stats     Stats

	adminOrg, adminProject string
	admin                  Key
}

// NewServer starts a fake Atlas on 127.0.0.1 at a random port, seeded with one
// organization (OrgID), one project (ProjectID) and an ORG_OWNER key
// (AdminKey). It panics if the server cannot start, like httptest.NewServer.
// Call Close when done.
func NewServer(opts ...Option) *Server {
	s, err := NewServerAt("", opts...)
	if err != nil {
		panic("atlastest: " + err.Error())
	}
	return s
}

// NewServerAt is NewServer listening on addr ("" means 127.0.0.1:0); it
// returns an error instead of panicking.
func NewServerAt(addr string, opts ...Option) (*Server, error) {
	cfg := config{
		addr:            "127.0.0.1:0",
		nonceLifetime:   5 * time.Minute,
		algorithm:       "MD5",
		tokenLifetime:   time.Hour,
		tokenRate:       10,
		tokenPer:        time.Minute,
		rateLimit:       100,
		roleErrorStatus: http.StatusForbidden,
		now:             time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if addr != "" {
		cfg.addr = addr
	}
	switch strings.ToUpper(cfg.algorithm) {
	case "MD5":
		cfg.algorithm = "MD5"
	case "SHA-256":
		cfg.algorithm = "SHA-256"
	default:
		return nil, fmt.Errorf("unsupported digest algorithm %q (want MD5 or SHA-256)", cfg.algorithm)
	}
	if cfg.nonceLifetime <= 0 || cfg.tokenLifetime <= 0 || cfg.tokenPer <= 0 || cfg.tokenRate < 0 || cfg.rateLimit < 0 {
		return nil, errors.New("lifetimes and rate windows must be positive")
	}
	if cfg.roleErrorStatus != http.StatusForbidden && cfg.roleErrorStatus != http.StatusUnauthorized {
		return nil, errors.New("role error status must be 401 or 403")
	}

	s := &Server{
		cfg:       cfg,
		closeCh:   make(chan struct{}),
		serveErr:  make(chan error, 1),
		st:        newState(),
		nonces:    map[string]*nonceState{},
		tokens:    map[string]*tokenState{},
		tokenHits: map[string][]time.Time{},
		rateWin:   map[string]*rateWindow{},
	}
	if cfg.seed != nil {
		s.rng = mrand.New(mrand.NewPCG(uint64(*cfg.seed), 0x9e3779b97f4a7c15))
	}
	s.adminOrg = s.AddOrg("Atlas Test Org")
	s.adminProject = s.AddProject(s.adminOrg, "Project 0")
	s.admin = s.AddAPIKey(s.adminOrg, "atlastest admin", "ORG_OWNER")

	var h http.Handler = http.HandlerFunc(s.serveHTTP)
	for i := len(cfg.middleware) - 1; i >= 0; i-- {
		h = cfg.middleware[i](h)
	}
	s.handler = h

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, err
	}
	s.listener = ln
	s.URL = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: http.HandlerFunc(s.enter), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.serveErr <- s.http.Serve(ln) }()
	return s, nil
}

// enter tracks in-flight handlers so Close can wait for them.
func (s *Server) enter(w http.ResponseWriter, r *http.Request) {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	s.active.Add(1)
	s.lifeMu.Unlock()
	defer s.active.Done()
	s.handler.ServeHTTP(w, r)
}

// Close shuts the server down: it closes the listener and every connection,
// cuts injected latencies short and waits for in-flight handlers. It is safe
// to call more than once.
func (s *Server) Close() {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return
	}
	s.closed = true
	s.lifeMu.Unlock()
	close(s.closeCh)
	_ = s.http.Close()
	<-s.serveErr
	s.active.Wait()
}

// Shutdown stops the server gracefully, letting in-flight requests finish
// until ctx is done, then closes it.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.Close()
	return err
}

// AdminKey returns the public and private key of the seeded ORG_OWNER key of
// the seeded organization.
func (s *Server) AdminKey() (publicKey, privateKey string) {
	return s.admin.PublicKey, s.admin.PrivateKey
}

// AdminKeyID returns the 24-hex id of the seeded admin key.
func (s *Server) AdminKeyID() string { return s.admin.ID }

// OrgID returns the id of the seeded organization.
func (s *Server) OrgID() string { return s.adminOrg }

// ProjectID returns the id of the seeded project (of the seeded organization).
func (s *Server) ProjectID() string { return s.adminProject }

// AddOrg creates an organization and returns its id.
func (s *Server) AddOrg(name string) (orgID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &org{id: s.newID(), name: name}
	s.st.orgs[o.id] = o
	s.st.orgOrder = append(s.st.orgOrder, o.id)
	return o.id
}

// AddProject creates a project in an organization and returns its id. It
// panics if the organization does not exist.
func (s *Server) AddProject(orgID, name string) (groupID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orgs[orgID]
	if o == nil {
		panic("atlastest: AddProject: no organization " + orgID)
	}
	p := &project{id: s.newID(), orgID: orgID, name: name}
	s.st.projects[p.id] = p
	o.projects = append(o.projects, p.id)
	return p.id
}

// AddAPIKey creates an organization API key with the given organization
// roles (ORG_*; none given means ORG_MEMBER) and returns its credentials. It
// panics on an unknown organization or role.
func (s *Server) AddAPIKey(orgID, desc string, orgRoles ...string) Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.orgs[orgID] == nil {
		panic("atlastest: AddAPIKey: no organization " + orgID)
	}
	if len(orgRoles) == 0 {
		orgRoles = []string{"ORG_MEMBER"}
	}
	for _, r := range orgRoles {
		if !isOrgRole(r) {
			panic("atlastest: AddAPIKey: not an organization role: " + r)
		}
	}
	k := s.createKeyLocked(orgID, desc, orgRoles)
	return Key{ID: k.id, PublicKey: k.publicKey, PrivateKey: k.privateKey}
}

// AssignAPIKey assigns an API key to a project with project roles (GROUP_*),
// replacing any roles it had there.
func (s *Server) AssignAPIKey(groupID, apiKeyID string, roles ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.projects[groupID]
	if p == nil {
		return fmt.Errorf("atlastest: no project %s", groupID)
	}
	k := s.st.keys[apiKeyID]
	if k == nil || k.orgID != p.orgID {
		return fmt.Errorf("atlastest: no API key %s in the project's organization", apiKeyID)
	}
	if len(roles) == 0 {
		return errors.New("atlastest: at least one role is required")
	}
	for _, r := range roles {
		if !isGroupRole(r) {
			return fmt.Errorf("atlastest: not a project role: %s", r)
		}
	}
	k.assign(groupID, roles)
	return nil
}

// AddAccessListEntry adds an IP address or CIDR block to an API key's access
// list.
func (s *Server) AddAccessListEntry(orgID, apiKeyID, ipOrCIDR string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.st.keys[apiKeyID]
	if k == nil || k.orgID != orgID {
		return fmt.Errorf("atlastest: no API key %s in organization %s", apiKeyID, orgID)
	}
	e, err := parseEntry(ipOrCIDR, strings.Contains(ipOrCIDR, "/"))
	if err != nil {
		return err
	}
	if k.findEntry(e.key()) != nil {
		return fmt.Errorf("atlastest: %s is already on the access list", ipOrCIDR)
	}
	e.created = s.cfg.now().UTC()
	k.access = append(k.access, e)
	return nil
}

// AddServiceAccount creates a service account in an organization with the
// given organization roles (none means ORG_MEMBER) and returns its OAuth
// client credentials, for POST /api/oauth/token.
func (s *Server) AddServiceAccount(orgID string, orgRoles ...string) (clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.orgs[orgID] == nil {
		panic("atlastest: AddServiceAccount: no organization " + orgID)
	}
	if len(orgRoles) == 0 {
		orgRoles = []string{"ORG_MEMBER"}
	}
	for _, r := range orgRoles {
		if !isOrgRole(r) {
			panic("atlastest: AddServiceAccount: not an organization role: " + r)
		}
	}
	sa := &serviceAccount{
		clientID: "mdb_sa_id_" + s.newID(),
		secret:   "mdb_sa_sk_" + s.randString(40, alnum),
		orgID:    orgID,
		orgRoles: slices.Clone(orgRoles),
	}
	s.st.accounts[sa.clientID] = sa
	return sa.clientID, sa.secret
}

// ---- randomness -------------------------------------------------------------

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func (s *Server) randBytes(n int) []byte {
	b := make([]byte, n)
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	if s.rng == nil {
		_, _ = rand.Read(b)
		return b
	}
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], s.rng.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

func (s *Server) newID() string { return hex.EncodeToString(s.randBytes(12)) }

func (s *Server) randString(n int, alphabet string) string {
	b := s.randBytes(n)
	out := make([]byte, n)
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(out)
}

func (s *Server) newUUID() string {
	b := s.randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// cryptoToken is always random, whatever the seed.
func cryptoToken(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
