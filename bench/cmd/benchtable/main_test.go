package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkGet/atlaskeys-2    	   100	    100 ns/op	         0 401s/op	         1.000 requests/op	   10 B/op	     4 allocs/op
BenchmarkGet/floor-2        	   100	     50 ns/op	         0 401s/op	         1.000 requests/op	    8 B/op	     2 allocs/op
BenchmarkGet/atlaskeys-2    	   100	    300 ns/op	         0 401s/op	         1.000 requests/op	   10 B/op	     4 allocs/op
BenchmarkGet/floor-2        	   100	    100 ns/op	         0 401s/op	         1.000 requests/op	    8 B/op	     2 allocs/op
BenchmarkList/per=100/atlaskeys-fa4-2   1   2000000 ns/op
PASS
`

func TestParseAndRatio(t *testing.T) {
	s, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Cases, ","); got != "Get,List/per=100" {
		t.Fatalf("cases %q", got)
	}
	if m, _ := s.Results["Get"]["atlaskeys"].Median("ns/op"); m != 200 {
		t.Fatalf("median %v, want 200", m)
	}
	// Medians 200 and 75.
	if x, _ := s.Ratio("Get", "atlaskeys", "floor", "ns/op"); x != 200.0/75 {
		t.Fatalf("ratio %v, want 2.67", x)
	}
	if s.Results["List/per=100"]["atlaskeys-fa4"] == nil {
		t.Fatal("client name with a non-numeric dash suffix was mangled")
	}
	var b strings.Builder
	s.Table(&b)
	if !strings.Contains(b.String(), "| Get | atlaskeys | 200 ns | 2.67 | 1.00 |") {
		t.Fatalf("table:\n%s", b.String())
	}
}
