// Package retry holds the pieces of atlaskeys's retry policy that do not
// depend on the client: backoff with jitter, Retry-After parsing, a
// context-aware wait and the client-wide retry budget.
package retry

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Backoff returns the wait before retry number n (1 for the first retry):
// "full jitter", a uniformly random duration in [base*2^(n-1)/2, base*2^(n-1)],
// capped at max. The lower half-bound keeps retries from bunching at zero.
func Backoff(n int, base, max time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && (max <= 0 || d < max) && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	if max > 0 && d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3). It reports false for an absent or malformed
// value. A date in the past gives 0.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		const maxSecs = int64((1<<63 - 1) / int64(time.Second))
		secs, err := strconv.ParseInt(v, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			// All digits but beyond int64: a very long wait, not garbage.
			secs, err = maxSecs, nil
		}
		if err != nil || secs < 0 {
			return 0, false
		}
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// Sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Budget is a client-wide pool of retry tokens, in the spirit of the AWS
// SDKs' retry quota: each retry takes tokens, each success gives some back.
// When many callers meet failures at once the pool runs dry and further
// failures are returned at once instead of multiplying load on a struggling
// server. A nil *Budget never runs dry.
type Budget struct {
	mu     sync.Mutex
	tokens int
	max    int
}

// Costs of a retry, and the refund of a success, in tokens.
const (
	CostRetry   = 5  // a retry after an error status (429, 5xx)
	CostTimeout = 10 // a retry after a connection error or timeout
	Refund      = 1  // a call that succeeded
)

// NewBudget returns a full budget of max tokens.
func NewBudget(max int) *Budget { return &Budget{tokens: max, max: max} }

// Take takes cost tokens and reports true, or reports false and takes
// nothing when fewer remain.
func (b *Budget) Take(cost int) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < cost {
		return false
	}
	b.tokens -= cost
	return true
}

// Give returns n tokens to the pool, never above its size.
func (b *Budget) Give(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.tokens+n, b.max)
	b.mu.Unlock()
}

// Tokens reports how many tokens remain.
func (b *Budget) Tokens() int {
	if b == nil {
		return -1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens
}
