// Package contracttest holds the client library and its fake, atlastest, to
// the real Atlas contract: the OpenAPI extract of the Programmatic API Keys
// resource in shared/spec/atlas-apikeys.openapi.yaml.
//
// Its tests start atlastest servers with a middleware that validates every
// request under /api/atlas/v2 and every response against the spec with
// github.com/getkin/kin-openapi, drive the real client through all 14
// operations, pagination and the declared error paths, and fail on any
// violation. Single IPv6 addresses, which the spec's patterns reject in their
// usual compressed form (a documented oddity of the spec), are checked by a
// separate test that tolerates only those pattern violations.
//
// It is a separate module because kin-openapi needs a newer Go than the
// library's go.mod declares, and it must not enter the library's module
// graph. Run it from this directory, without a package argument so that the
// summary line TestMain prints ("contract: validated N requests and M
// responses ...") shows even when every test passes:
//
//	go test -race -count=1
//
// The spec is found through the ATLASKEYS_SPEC environment variable or by
// walking up from the working directory to a parent that holds
// shared/spec/atlas-apikeys.openapi.yaml; without it every test skips.
package contracttest
