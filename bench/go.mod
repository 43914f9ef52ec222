module github.com/seed243cb23e/atlaskeys/bench

go 1.23.0

replace github.com/seed243cb23e/atlaskeys => ../

require (
	github.com/mongodb-forks/digest v1.1.0
	github.com/seed243cb23e/atlaskeys v0.0.0
	go.mongodb.org/atlas v0.38.0
)

require (
	github.com/google/go-querystring v1.2.0 // indirect
	golang.org/x/oauth2 v0.30.0 // indirect
)
