module github.com/seed243cb23e/atlaskeys

go 1.23.0

require (
	github.com/google/go-querystring v1.2.0
	github.com/jarcoal/httpmock v1.4.2
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/oauth2 v0.30.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
