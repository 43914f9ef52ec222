// Command atlastest serves the atlastest fake Atlas on a fixed address so
// that programs (and the README quickstart) can run against it:
//
//	go run ./atlastest/cmd/atlastest -addr 127.0.0.1:8080
//
// It prints the base URL, the admin key and the seeded ids, and stops on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seed243cb23e/atlaskeys/atlastest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	alg := flag.String("digest", "MD5", "digest algorithm: MD5 or SHA-256")
	seed := flag.Int64("seed", 0, "seed for deterministic ids (0 = random)")
	flag.Parse()

	opts := []atlastest.Option{atlastest.WithDigestAlgorithm(*alg)}
	if *seed != 0 {
		opts = append(opts, atlastest.WithSeed(*seed))
	}
	srv, err := atlastest.NewServerAt(*addr, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "atlastest:", err)
		os.Exit(1)
	}
	pub, priv := srv.AdminKey()
	fmt.Printf("ATLAS_BASE_URL=%s\nATLAS_PUBLIC_KEY=%s\nATLAS_PRIVATE_KEY=%s\nATLAS_ORG_ID=%s\nATLAS_PROJECT_ID=%s\n",
		srv.URL, pub, priv, srv.OrgID(), srv.ProjectID())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
}
