package atlaskeys

import (
	"context"
	"encoding/json"
	"iter"
	"sync"
)

// DefaultItemsPerPage is the page size Atlas uses when ItemsPerPage is 0.
const DefaultItemsPerPage = 100

// MaxItemsPerPage is the largest page size Atlas accepts.
const MaxItemsPerPage = 500

// ListOptions selects a page of a list call. The zero value (or nil) asks for
// Atlas's defaults: page 1, 100 items, with a total count.
type ListOptions struct {
	// PageNum is the 1-based page to return; 0 means 1.
	PageNum int `url:"pageNum,omitempty"`
	// ItemsPerPage is the page size, 1 to 500; 0 means Atlas's default (100).
	ItemsPerPage int `url:"itemsPerPage,omitempty"`
	// IncludeCount asks Atlas to return TotalCount (its default is true).
	IncludeCount *bool `url:"includeCount,omitempty"`
	// FetchAhead is used by All only: when it is above 1 and Atlas reports a
	// total count, up to FetchAhead pages are fetched concurrently ahead of
	// the loop, while items are still yielded in order. 0 or 1 fetches one
	// page at a time. It is never sent to Atlas.
	FetchAhead int `url:"-"`
}

func (o *ListOptions) validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.PageNum < 0:
		return invalidArg("opts.PageNum", "must be 1 or more (0 means 1)")
	case o.ItemsPerPage < 0 || o.ItemsPerPage > MaxItemsPerPage:
		return invalidArg("opts.ItemsPerPage", "must be between 1 and 500 (0 means 100)")
	case o.FetchAhead < 0:
		return invalidArg("opts.FetchAhead", "must not be negative")
	}
	return nil
}

// Page is one page of a list call.
type Page[T any] struct {
	// Results holds the page's items.
	Results []T `json:"results"`
	// TotalCount is Atlas's (estimated) total across all pages. It is 0 when
	// the count was not requested; see HasTotalCount.
	TotalCount int `json:"totalCount"`
	// Links holds the page's self, next and previous links.
	Links []Link `json:"links,omitempty"`

	hasTotal bool
}

// HasTotalCount reports whether Atlas sent totalCount for this page.
func (p *Page[T]) HasTotalCount() bool { return p.hasTotal }

// NextLink returns the href of the page's "next" link, or "".
func (p *Page[T]) NextLink() string {
	for _, l := range p.Links {
		if l.Rel == "next" {
			return l.Href
		}
	}
	return ""
}

// UnmarshalJSON decodes a page and notes whether totalCount was present.
func (p *Page[T]) UnmarshalJSON(b []byte) error {
	np, err := decodePage[T](func(v any) error { return json.Unmarshal(b, v) })
	if err != nil {
		return err
	}
	*p = *np
	return nil
}

// pageWire is a page as Atlas sends it. Decoding into it is a single pass
// over the body (Page's own UnmarshalJSON would make encoding/json scan a
// streamed body twice more); Results points at a slice that stays nil when
// the field is absent.
type pageWire[T any] struct {
	Results    *[]T   `json:"results"`
	TotalCount *int   `json:"totalCount"`
	Links      []Link `json:"links"`
}

// decodePage decodes one page with decode (a json.Decoder's Decode, or
// json.Unmarshal on a buffer). A document without "results" is not a page.
func decodePage[T any](decode func(any) error) (*Page[T], error) {
	var items []T
	w := pageWire[T]{Results: &items}
	if err := decode(&w); err != nil {
		return nil, err
	}
	switch {
	case w.Results == nil: // "results": null
		items = []T{}
	case items == nil: // no "results" at all ("[]" makes a non-nil slice)
		return nil, errMissingResults
	}
	p := &Page[T]{Results: items, Links: w.Links}
	if w.TotalCount != nil {
		p.TotalCount, p.hasTotal = *w.TotalCount, true
	}
	return p, nil
}

// PageFunc fetches one page of a list. Every List method has this shape once
// its ids are bound, so Pages and Items work with any of them.
type PageFunc[T any] func(ctx context.Context, opts *ListOptions) (*Page[T], *Response, error)

// Items returns an iterator over every item of a list, fetching pages lazily
// through fetch: a page is requested only when the loop reaches it, and no
// page is requested after the loop breaks. An error is yielded once, with a
// nil item, and ends the iteration. opts is copied, never modified; nil
// means Atlas's defaults. When opts.FetchAhead > 1 and Atlas reports a total
// count, up to FetchAhead pages are fetched concurrently, still yielded in
// order; fetches stop soon after the loop breaks.
//
//	for key, err := range atlaskeys.Items(ctx, opts, fetch) { … }
func Items[T any](ctx context.Context, opts *ListOptions, fetch PageFunc[T]) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		if err := o.validate(); err != nil {
			yield(nil, err)
			return
		}
		if o.PageNum == 0 {
			o.PageNum = 1
		}
		per := o.ItemsPerPage
		if per == 0 {
			per = DefaultItemsPerPage
		}
		before := (o.PageNum - 1) * per // items on the pages before this one
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			req := o
			page, _, err := fetch(ctx, &req)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Results {
				if !yield(&page.Results[i], nil) {
					return
				}
			}
			n := len(page.Results)
			before += n
			if n == 0 {
				return
			}
			if page.hasTotal && o.FetchAhead > 1 && before < page.TotalCount {
				fetchAhead(ctx, o, per, page.TotalCount, fetch, yield)
				return
			}
			if !hasMore(page, before, per) {
				return
			}
			o.PageNum++
		}
	}
}

// hasMore decides whether another page follows: from totalCount when Atlas
// sent it, else from a "next" link, else from whether the page was full.
func hasMore[T any](page *Page[T], seen, per int) bool {
	switch {
	case page.hasTotal:
		return seen < page.TotalCount
	case page.NextLink() != "":
		return true
	default:
		return len(page.Results) >= per
	}
}

type pageResult[T any] struct {
	page *Page[T]
	err  error
}

// fetchAhead yields the pages after o.PageNum, fetching up to o.FetchAhead of
// them concurrently. Pages are yielded in order; the first error in page
// order is yielded and ends the iteration. Every fetch goroutine has
// finished when it returns.
func fetchAhead[T any](ctx context.Context, o ListOptions, per, total int, fetch PageFunc[T], yield func(*T, error) bool) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	last := (total + per - 1) / per
	next := o.PageNum + 1 // next page to start fetching
	var window []chan pageResult[T]
	start := func() {
		ch := make(chan pageResult[T], 1)
		req := o
		req.PageNum = next
		next++
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _, err := fetch(ctx, &req)
			ch <- pageResult[T]{p, err}
		}()
		window = append(window, ch)
	}
	for len(window) < o.FetchAhead && next <= last {
		start()
	}
	for len(window) > 0 {
		var r pageResult[T]
		select {
		case r = <-window[0]:
		case <-ctx.Done():
			yield(nil, ctx.Err())
			return
		}
		window = window[1:]
		if r.err != nil {
			yield(nil, r.err)
			return
		}
		if next <= last {
			start()
		}
		for i := range r.page.Results {
			if !yield(&r.page.Results[i], nil) {
				return
			}
		}
		if len(r.page.Results) == 0 {
			return // the list shrank while we walked it
		}
	}
}

var errMissingResults = &jsonShapeError{"the document has no \"results\" field"}

type jsonShapeError struct{ msg string }

func (e *jsonShapeError) Error() string { return e.msg }
