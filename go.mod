module github.com/seed243cb23e/atlaskeys

// 1.23: range-over-func (iter.Seq2) is the floor. golang.org/x/oauth2 is
// held at v0.30.0, its last release that still supports go 1.23.
go 1.23.0

require (
	// Encodes ListOptions into the query string.
	github.com/google/go-querystring v1.2.0
	// Tests only: wire-level assertions on every operation.
	github.com/jarcoal/httpmock v1.4.2
	// Tests only: assertions.
	github.com/stretchr/testify v1.12.1
	// Tests only: no test may leak a goroutine.
	go.uber.org/goleak v1.3.0
	// WithServiceAccount: the OAuth 2.0 client-credentials flow Atlas
	// recommends, rather than a hand-written token client.
	golang.org/x/oauth2 v0.30.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
