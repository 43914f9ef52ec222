// Package atlastest runs an in-memory fake of the MongoDB Atlas Admin API v2
// Programmatic API Keys resource on a loopback port, in the spirit of
// net/http/httptest, for tests of code that manages Atlas API keys.
//
// It speaks the contract of the 14 operations (organization API keys, their
// IP access lists and their project assignments) with Atlas's status codes,
// error bodies and pagination links; authenticates with HTTP Digest exactly
// like Atlas (realm "MMS Public API", qop auth, stale nonces) or with OAuth2
// bearer tokens of service accounts (POST /api/oauth/token); and injects
// faults: error statuses with Retry-After, latency, dropped connections and
// expired nonces. It shares no code with the client library: it is an
// independent second implementation of the contract.
//
// Usage:
//
//	srv := atlastest.NewServer()
//	defer srv.Close()
//	pub, priv := srv.AdminKey() // an ORG_OWNER key of srv.OrgID()
//	// point the client at srv.URL with digest credentials pub/priv, then:
//	srv.InjectFault(atlastest.Fault{Method: "GET", Status: 429, RetryAfter: "1"})
//	// ... exercise the client, then inspect srv.Snapshot() and srv.Requests().
//
// Requests must send Accept: application/vnd.atlas.2023-01-01+json (any other
// version, application/json or no Accept is refused with 406
// INVALID_VERSION_DATE) and bodies as application/json or that same media
// type (anything else is 415).
package atlastest
