// Command benchtable reads raw `go test -bench` output and prints one
// markdown table with the median of every metric for each case and client,
// and each client's time ratio to the floor and to atlaskeys.
//
// A benchmark named BenchmarkCase/sub/client-N is case "Case/sub" and
// client "client" (the -N GOMAXPROCS suffix is dropped). A ratio is the
// median of one client over the median of the reference client in the same
// case. (go test -count repeats each leaf benchmark back to back, so runs
// of different clients are not interleaved and pairing them run by run
// would not cancel the machine's drift.)
//
// With -targets, a list of the project's performance targets follows the
// table, each marked met or missed.
//
//	go run ./cmd/benchtable [-targets] results/raw.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Result is the values of one benchmark across runs, by unit, in run order.
type Result struct {
	Case, Client string
	Values       map[string][]float64
}

// Median returns the median of unit's values and whether there were any.
func (r *Result) Median(unit string) (float64, bool) {
	return median(r.Values[unit])
}

// Set is parsed benchmark output, in order of first appearance.
type Set struct {
	Cases   []string
	Results map[string]map[string]*Result // case -> client -> result
	Order   map[string][]string           // case -> clients in order
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output; lines that are not benchmark results
// are ignored.
func Parse(r io.Reader) (*Set, error) {
	s := &Set{Results: map[string]map[string]*Result{}, Order: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		cs, client := name, name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			cs, client = name[:i], name[i+1:]
		}
		if s.Results[cs] == nil {
			s.Results[cs] = map[string]*Result{}
			s.Cases = append(s.Cases, cs)
		}
		res := s.Results[cs][client]
		if res == nil {
			res = &Result{Case: cs, Client: client, Values: map[string][]float64{}}
			s.Results[cs][client] = res
			s.Order[cs] = append(s.Order[cs], client)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			res.Values[f[i+1]] = append(res.Values[f[i+1]], v)
		}
	}
	return s, sc.Err()
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// Ratio returns client/ref for unit within one case: the ratio of medians.
func (s *Set) Ratio(cs, client, ref, unit string) (float64, bool) {
	a, b := s.Results[cs][client], s.Results[cs][ref]
	if a == nil || b == nil {
		return 0, false
	}
	ma, okA := median(a.Values[unit])
	mb, okB := median(b.Values[unit])
	if !okA || !okB || mb == 0 {
		return 0, false
	}
	return ma / mb, true
}

func fmtTime(ns float64) string {
	switch {
	case ns >= 1e9:
		return sig(ns/1e9) + " s"
	case ns >= 1e6:
		return sig(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig(ns/1e3) + " µs"
	}
	return sig(ns) + " ns"
}

// sig formats v with 3 significant digits (no exponent).
func sig(v float64) string {
	if v == 0 {
		return "0"
	}
	d := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return sig(v)
}

// columns are the optional metric columns, shown when any result has them.
var columns = []struct{ unit, title string }{
	{"B/op", "B/op"},
	{"allocs/op", "allocs/op"},
	{"requests/op", "requests/op"},
	{"401s/op", "401s/op"},
	{"reqbody-B/op", "req body B/op"},
	{"peak-live-MB", "peak live MB"},
	{"peak-heap-MB", "peak heap MB"},
}

// Table writes the markdown table.
func (s *Set) Table(w io.Writer) {
	var cols []int
	for i, c := range columns {
		for _, cs := range s.Cases {
			found := false
			for _, r := range s.Results[cs] {
				if len(r.Values[c.unit]) > 0 {
					found = true
				}
			}
			if found {
				cols = append(cols, i)
				break
			}
		}
	}
	head := []string{"case", "client", "time/op", "× floor", "× atlaskeys"}
	for _, i := range cols {
		head = append(head, columns[i].title)
	}
	head = append(head, "runs")
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	align := make([]string, len(head))
	for i := range align {
		align[i] = "---:"
	}
	align[0], align[1] = "---", "---"
	fmt.Fprintln(w, "| "+strings.Join(align, " | ")+" |")
	for _, cs := range s.Cases {
		for _, client := range s.Order[cs] {
			r := s.Results[cs][client]
			row := []string{cs, client, "—", "—", "—"}
			if m, ok := r.Median("ns/op"); ok {
				row[2] = fmtTime(m)
			}
			if x, ok := s.Ratio(cs, client, "floor", "ns/op"); ok {
				row[3] = sig(x)
			}
			if x, ok := s.Ratio(cs, client, "atlaskeys", "ns/op"); ok {
				row[4] = sig(x)
			}
			for _, i := range cols {
				cell := "—"
				if m, ok := r.Median(columns[i].unit); ok {
					cell = fmtNum(m)
				}
				row = append(row, cell)
			}
			row = append(row, strconv.Itoa(len(r.Values["ns/op"])))
			fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
		}
	}
}

// Targets writes the project's performance targets, each met or missed.
func (s *Set) Targets(w io.Writer) {
	check := func(what string, ok, known bool, detail string) {
		mark := "missed"
		switch {
		case !known:
			mark = "not measured"
		case ok:
			mark = "met"
		}
		fmt.Fprintf(w, "- %s: **%s** (%s)\n", what, mark, detail)
	}
	med := func(cs, client, unit string) (float64, bool) {
		if r := s.Results[cs][client]; r != nil {
			return r.Median(unit)
		}
		return 0, false
	}
	var detail string
	req, ok1 := med("Get", "atlaskeys", "requests/op")
	oldReq, ok2 := med("Get", "mongodbatlas", "requests/op")
	check("requests per warm get 1.00 (existing client 2.00)", req <= 1.0001, ok1 && ok2,
		fmt.Sprintf("atlaskeys %.2f, mongodbatlas %.2f", req, oldReq))

	u, ok1 := med("Get", "atlaskeys", "401s/op")
	pu, ok2 := med("ParallelGet32", "atlaskeys", "401s/op")
	detail = "warm get " + sig(u)
	if ok2 {
		detail += fmt.Sprintf("; 32 goroutines from cold %s, the cold start amortised over b.N", sig(pu))
	}
	check("401s/op ≈ 0 after the first call", u < 0.001, ok1, detail)

	x, ok := s.Ratio("GetLatency5ms", "atlaskeys", "mongodbatlas", "ns/op")
	check("get with 5 ms latency ≤ 0.55 × existing client", x <= 0.55, ok, fmt.Sprintf("%s ×", sig(x)))

	a, ok1 := med("Get", "atlaskeys", "allocs/op")
	o, ok2 := med("Get", "mongodbatlas", "allocs/op")
	f, ok3 := med("Get", "floor", "allocs/op")
	detail = fmt.Sprintf("whole process: %s vs %s = %s ×", fmtNum(a), fmtNum(o), sig(a/o))
	if ok3 && o > f {
		detail += fmt.Sprintf("; above the floor's %s (server + net/http): %s vs %s = %s ×",
			fmtNum(f), fmtNum(a-f), fmtNum(o-f), sig((a-f)/(o-f)))
	}
	check("allocs per get ≤ half the existing client's", a <= o/2, ok1 && ok2, detail)

	x, ok = s.Ratio("Get", "atlaskeys", "floor", "ns/op")
	check("warm get on loopback ≤ 1.3 × the floor", x <= 1.3, ok, fmt.Sprintf("%s ×", sig(x)))

	x, ok = s.Ratio("ListLatency5ms/per=100", "atlaskeys", "atlaskeys-fa4", "ns/op")
	l4, _ := med("ListLatency5ms/per=100", "atlaskeys-fa4", "peak-live-MB")
	l1, _ := med("ListLatency5ms/per=100", "atlaskeys", "peak-live-MB")
	lf, _ := med("ListLatency5ms/per=100", "floor", "peak-live-MB")
	check("listing 10,000 keys at 100/page with 5 ms latency ≥ 3 × faster with fetch-ahead 4", x >= 3, ok,
		fmt.Sprintf("%s × faster; peak live heap %s MB with fetch-ahead, %s MB without, floor %s MB",
			sig(x), sig(l4), sig(l1), sig(lf)))
}

func main() {
	targets := flag.Bool("targets", false, "list the performance targets after the table")
	flag.Parse()
	var in io.Reader = os.Stdin
	if flag.NArg() > 0 {
		var rs []io.Reader
		for _, name := range flag.Args() {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer f.Close()
			rs = append(rs, f)
		}
		in = io.MultiReader(rs...)
	}
	s, err := Parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if len(s.Cases) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results in the input")
		os.Exit(1)
	}
	s.Table(os.Stdout)
	if *targets {
		fmt.Println()
		s.Targets(os.Stdout)
	}
}
