package atlaskeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pager is a fake Atlas list of total API keys, served page by page.
type pager struct {
	total     int
	mode      string        // "count" (totalCount), "next" (next links only) or "short" (neither)
	delay     time.Duration // per request
	failPage  int           // page answered with 500 (0: none)
	failDelay time.Duration // extra delay before answering failPage

	mu       sync.Mutex
	pages    []int // page numbers requested, in arrival order
	inFlight int
	maxIn    int
}

func keyIDFor(i int) string { return fmt.Sprintf("%024x", i) }

func (p *pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("pageNum"))
	if page == 0 {
		page = 1
	}
	per, _ := strconv.Atoi(q.Get("itemsPerPage"))
	if per == 0 {
		per = DefaultItemsPerPage
	}
	p.mu.Lock()
	p.pages = append(p.pages, page)
	p.inFlight++
	p.maxIn = max(p.maxIn, p.inFlight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()

	delay := p.delay
	if page == p.failPage {
		delay += p.failDelay
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	if page == p.failPage {
		writeAtlasError(w, http.StatusInternalServerError, "UNEXPECTED_ERROR", "page "+strconv.Itoa(page)+" broke")
		return
	}
	out := map[string]any{}
	results := []map[string]any{}
	for i := (page - 1) * per; i < page*per && i < p.total; i++ {
		results = append(results, map[string]any{"id": keyIDFor(i), "desc": "key " + strconv.Itoa(i)})
	}
	out["results"] = results
	links := []map[string]string{{"rel": "self", "href": r.URL.String()}}
	switch p.mode {
	case "count":
		if q.Get("includeCount") != "false" {
			out["totalCount"] = p.total
		}
	case "next":
		if page*per < p.total {
			links = append(links, map[string]string{"rel": "next", "href": "https://cloud.mongodb.com/next"})
		}
	}
	out["links"] = links
	b, _ := json.Marshal(out)
	writeJSON(w, 200, string(b))
}

func (p *pager) requested() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.pages...)
}

func (p *pager) maxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxIn
}

func newPager(t *testing.T, p *pager) *Client {
	t.Helper()
	f := setup(t)
	f.mux.Handle("GET /api/atlas/v2/orgs/{org}/apiKeys", p)
	return f.client
}

// collect runs an iterator to its end.
func collect(seq func(yield func(*APIKey, error) bool)) ([]string, []error) {
	var ids []string
	var errs []error
	for k, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue // Items must stop by itself after an error
		}
		ids = append(ids, k.ID)
	}
	return ids, errs
}

func wantIDs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, keyIDFor(i))
	}
	return out
}

func TestAll_Pages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      string
		total     int
		opts      *ListOptions
		wantPages []int
		wantFrom  int
	}{
		{"totalCount", "count", 7, &ListOptions{ItemsPerPage: 3}, []int{1, 2, 3}, 0},
		{"totalCount exact pages", "count", 6, &ListOptions{ItemsPerPage: 3}, []int{1, 2}, 0},
		{"next links without count", "next", 7, &ListOptions{ItemsPerPage: 3, IncludeCount: boolPtr(false)}, []int{1, 2, 3}, 0},
		{"short page", "short", 7, &ListOptions{ItemsPerPage: 3, IncludeCount: boolPtr(false)}, []int{1, 2, 3}, 0},
		{"short page, full last page", "short", 6, &ListOptions{ItemsPerPage: 3}, []int{1, 2, 3}, 0},
		{"start at page 2", "count", 7, &ListOptions{ItemsPerPage: 3, PageNum: 2}, []int{2, 3}, 3},
		{"nil options", "count", 150, nil, []int{1, 2}, 0},
		{"empty list", "count", 0, nil, []int{1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &pager{total: tt.total, mode: tt.mode}
			c := newPager(t, p)
			var before ListOptions
			if tt.opts != nil {
				before = *tt.opts
			}
			ids, errs := collect(c.OrgAPIKeys.All(context.Background(), orgID, tt.opts))
			assert.Empty(t, errs)
			assert.Equal(t, wantIDs(tt.wantFrom, tt.total), ids)
			assert.Equal(t, tt.wantPages, p.requested())
			if tt.opts != nil {
				assert.Equal(t, before, *tt.opts, "caller's options modified")
			}
		})
	}
}

func TestAll_BreakStopsFetching(t *testing.T) {
	t.Parallel()
	p := &pager{total: 100, mode: "count"}
	c := newPager(t, p)
	n := 0
	for k, err := range c.OrgAPIKeys.All(context.Background(), orgID, &ListOptions{ItemsPerPage: 10}) {
		require.NoError(t, err)
		require.NotNil(t, k)
		n++
		if n == 15 {
			break
		}
	}
	assert.Equal(t, 15, n)
	assert.Equal(t, []int{1, 2}, p.requested())
}

func TestAll_ErrorMidway(t *testing.T) {
	t.Parallel()
	p := &pager{total: 10, mode: "count", failPage: 2}
	c := newPager(t, p)
	ids, errs := collect(c.OrgAPIKeys.All(context.Background(), orgID, &ListOptions{ItemsPerPage: 3}))
	assert.Equal(t, wantIDs(0, 3), ids)
	require.Len(t, errs, 1, "the error is yielded once, then iteration stops")
	assert.ErrorIs(t, errs[0], ErrServer)
	assert.Equal(t, []int{1, 2}, p.requested())
}

func TestAll_InvalidOptions(t *testing.T) {
	t.Parallel()
	p := &pager{total: 10, mode: "count"}
	c := newPager(t, p)
	ids, errs := collect(c.OrgAPIKeys.All(context.Background(), orgID, &ListOptions{ItemsPerPage: 501}))
	assert.Empty(t, ids)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrInvalidArgument)
	ids, errs = collect(c.OrgAPIKeys.All(context.Background(), "nope", nil))
	assert.Empty(t, ids)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrInvalidArgument)
	assert.Empty(t, p.requested())
}

func TestAll_ContextCanceled(t *testing.T) {
	t.Parallel()
	p := &pager{total: 100, mode: "count"}
	c := newPager(t, p)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ids, errs := collect(c.OrgAPIKeys.All(ctx, orgID, nil))
	assert.Empty(t, ids)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)
	assert.Empty(t, p.requested())

	// Canceled while the loop runs: the next page is not fetched.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var gotErr []error
	for k, err := range c.OrgAPIKeys.All(ctx, orgID, &ListOptions{ItemsPerPage: 10}) {
		if err != nil {
			gotErr = append(gotErr, err)
			continue
		}
		require.NotNil(t, k)
		n++
		if n == 5 {
			cancel()
		}
	}
	assert.Equal(t, 10, n, "the page already fetched is finished")
	require.Len(t, gotErr, 1)
	assert.ErrorIs(t, gotErr[0], context.Canceled)
	assert.Equal(t, []int{1}, p.requested())
}

func TestAll_OtherServices(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mux.HandleFunc("GET /api/atlas/v2/groups/{group}/apiKeys", func(w http.ResponseWriter, r *http.Request) {
		testRawPath(t, r, "/api/atlas/v2/groups/"+groupID+"/apiKeys")
		if r.URL.Query().Get("pageNum") == "1" {
			writeJSON(w, 200, `{"results":[{"id":"a"},{"id":"b"}],"totalCount":3}`)
			return
		}
		writeJSON(w, 200, `{"results":[{"id":"c"}],"totalCount":3}`)
	})
	f.mux.HandleFunc("GET /api/atlas/v2/orgs/{org}/apiKeys/{key}/accessList", func(w http.ResponseWriter, r *http.Request) {
		testRawPath(t, r, "/api/atlas/v2/orgs/"+orgID+"/apiKeys/"+keyID+"/accessList")
		writeJSON(w, 200, entryPageJSON)
	})
	ctx := context.Background()
	ids, errs := collect(f.client.ProjectAPIKeys.All(ctx, groupID, &ListOptions{ItemsPerPage: 2}))
	assert.Empty(t, errs)
	assert.Equal(t, []string{"a", "b", "c"}, ids)

	var addrs []string
	for e, err := range f.client.AccessList.All(ctx, orgID, keyID, nil) {
		require.NoError(t, err)
		addrs = append(addrs, e.Address())
	}
	assert.Equal(t, []string{"203.0.113.0/24", "2001:db8::1"}, addrs)
}

func TestAll_FetchAhead(t *testing.T) {
	t.Parallel()
	p := &pager{total: 95, mode: "count", delay: 5 * time.Millisecond}
	c := newPager(t, p)
	opts := &ListOptions{ItemsPerPage: 5, FetchAhead: 4}
	ids, errs := collect(c.OrgAPIKeys.All(context.Background(), orgID, opts))
	assert.Empty(t, errs)
	assert.Equal(t, wantIDs(0, 95), ids, "all items, in order")
	got := p.requested()
	assert.Len(t, got, 19, "each page once")
	assert.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, got)
	assert.LessOrEqual(t, p.maxInFlight(), 4, "concurrency bounded by FetchAhead")
	assert.Greater(t, p.maxInFlight(), 1, "pages were fetched concurrently")
	assert.Equal(t, 4, opts.FetchAhead)
}

func TestAll_FetchAheadBreak(t *testing.T) {
	t.Parallel()
	p := &pager{total: 1000, mode: "count", delay: 2 * time.Millisecond}
	c := newPager(t, p)
	var started, running atomic.Int32
	fetch := func(ctx context.Context, o *ListOptions) (*Page[APIKey], *Response, error) {
		started.Add(1)
		running.Add(1)
		defer running.Add(-1)
		return c.OrgAPIKeys.List(ctx, orgID, o)
	}
	n := 0
	for _, err := range Items(context.Background(), &ListOptions{ItemsPerPage: 10, FetchAhead: 3}, fetch) {
		require.NoError(t, err)
		n++
		if n == 25 { // on page 3
			break
		}
	}
	// Page 1 alone, then pages 2..4 and one more as each of pages 2 and 3
	// is taken: at most 6 fetches, and none still running once the loop
	// has ended.
	assert.Zero(t, running.Load(), "every fetch has finished when the loop ends")
	assert.LessOrEqual(t, started.Load(), int32(6))
	assert.GreaterOrEqual(t, started.Load(), int32(3))
	after := started.Load()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, after, started.Load(), "no fetch after the loop ended")
	assert.LessOrEqual(t, len(p.requested()), 6)
}

func TestAll_FetchAheadFirstErrorInOrder(t *testing.T) {
	t.Parallel()
	// Page 3 fails slowly, page 5 fails fast: page 3's error is the one the
	// loop sees, after pages 1 and 2.
	p := &failingPager{pager: pager{total: 100, mode: "count", failPage: 3, failDelay: 30 * time.Millisecond}, fastFail: 5}
	f := setup(t)
	f.mux.Handle("GET /api/atlas/v2/orgs/{org}/apiKeys", p)
	ids, errs := collect(f.client.OrgAPIKeys.All(context.Background(), orgID, &ListOptions{ItemsPerPage: 10, FetchAhead: 4}))
	assert.Equal(t, wantIDs(0, 20), ids)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "page 3 broke")
}

// failingPager is a pager that also fails fastFail at once.
type failingPager struct {
	pager
	fastFail int
}

func (f *failingPager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("pageNum") == strconv.Itoa(f.fastFail) {
		writeAtlasError(w, http.StatusInternalServerError, "UNEXPECTED_ERROR", "page "+strconv.Itoa(f.fastFail)+" broke")
		return
	}
	f.pager.ServeHTTP(w, r)
}

func TestAll_FetchAheadContextCanceled(t *testing.T) {
	t.Parallel()
	p := &pager{total: 1000, mode: "count", delay: 50 * time.Millisecond}
	c := newPager(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	start := time.Now()
	ids, errs := collect(c.OrgAPIKeys.All(ctx, orgID, &ListOptions{ItemsPerPage: 10, FetchAhead: 3}))
	assert.Less(t, time.Since(start), time.Second)
	assert.Less(t, len(ids), 1000)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.DeadlineExceeded)
}

// TestItems_Generic drives Items with a fetch function and no HTTP at all.
func TestItems_Generic(t *testing.T) {
	t.Parallel()
	var seen []int
	fetch := func(ctx context.Context, o *ListOptions) (*Page[int], *Response, error) {
		seen = append(seen, o.PageNum)
		first := (o.PageNum - 1) * 2
		o.PageNum = -99 // a fetch that scribbles on its options must not derail Items
		res := []int{}
		for i := first; i < first+2 && i < 5; i++ {
			res = append(res, i)
		}
		return &Page[int]{Results: res, TotalCount: 5, hasTotal: true}, nil, nil
	}
	var got []int
	for v, err := range Items(context.Background(), &ListOptions{ItemsPerPage: 2}, fetch) {
		require.NoError(t, err)
		got = append(got, *v)
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4}, got)
	assert.Equal(t, []int{1, 2, 3}, seen)

	boom := errors.New("boom")
	n := 0
	for _, err := range Items(context.Background(), &ListOptions{}, func(context.Context, *ListOptions) (*Page[int], *Response, error) {
		return nil, nil, boom
	}) {
		n++
		assert.ErrorIs(t, err, boom)
	}
	assert.Equal(t, 1, n)
}
