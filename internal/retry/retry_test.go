package retry

import (
	"context"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoff_Bounds(t *testing.T) {
	t.Parallel()
	base, maxD := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 12; n++ {
		want := base << (n - 1)
		if want > maxD {
			want = maxD
		}
		for i := 0; i < 200; i++ {
			d := Backoff(n, base, maxD)
			require.GreaterOrEqual(t, d, want/2, "retry %d", n)
			require.LessOrEqual(t, d, want, "retry %d", n)
		}
	}
}

func TestBackoff_Jitters(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for i := 0; i < 50; i++ {
		seen[Backoff(3, time.Second, time.Minute)] = true
	}
	assert.Greater(t, len(seen), 1, "waits are randomised")
}

func TestBackoff_Edges(t *testing.T) {
	t.Parallel()
	assert.Zero(t, Backoff(1, 0, time.Second))
	assert.Zero(t, Backoff(5, -time.Second, time.Second))
	// A huge retry number neither overflows nor exceeds the cap.
	for _, n := range []int{63, 64, 1000, math.MaxInt} {
		d := Backoff(n, time.Second, 30*time.Second)
		assert.GreaterOrEqual(t, d, 15*time.Second, "n=%d", n)
		assert.LessOrEqual(t, d, 30*time.Second, "n=%d", n)
	}
	// No cap: still doubles, never overflows.
	d := Backoff(4, time.Second, 0)
	assert.GreaterOrEqual(t, d, 4*time.Second)
	assert.LessOrEqual(t, d, 8*time.Second)
	assert.Positive(t, Backoff(200, time.Second, 0))
	// A cap below the base wins.
	assert.LessOrEqual(t, Backoff(1, time.Second, 10*time.Millisecond), 10*time.Millisecond)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	maxDur := time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"007", 7 * time.Second, true},
		{"Wed, 01 May 2024 12:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 01-May-24 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Wed May  1 12:00:05 2024", 5 * time.Second, true},      // asctime
		{"Wed, 01 May 2024 11:00:00 GMT", 0, true},               // past
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"1e3", 0, false},
		{"soon", 0, false},
		{"2024-05-01T12:00:30Z", 0, false},
		{"9223372036", 9223372036 * time.Second, true},
		{"9223372037", maxDur, true}, // above what a Duration holds: capped
		{"99999999999999999999999999", maxDur, true},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		assert.Equal(t, tt.wantOK, ok, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
		assert.GreaterOrEqual(t, got, time.Duration(0), "%q", tt.in)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	require.NoError(t, Sleep(context.Background(), time.Millisecond))
	require.NoError(t, Sleep(context.Background(), 0))
	require.NoError(t, Sleep(context.Background(), -time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Sleep(ctx, time.Minute)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	assert.ErrorIs(t, Sleep(done, 0), context.Canceled, "a done context is reported even without waiting")
	assert.ErrorIs(t, Sleep(done, time.Hour), context.Canceled)
}

func TestBudget(t *testing.T) {
	t.Parallel()
	b := NewBudget(12)
	assert.Equal(t, 12, b.Tokens())
	assert.True(t, b.Take(CostRetry))
	assert.True(t, b.Take(CostRetry))
	assert.Equal(t, 2, b.Tokens())
	assert.False(t, b.Take(CostRetry), "not enough left")
	assert.Equal(t, 2, b.Tokens(), "a refused take takes nothing")
	b.Give(Refund)
	assert.Equal(t, 3, b.Tokens())
	b.Give(100)
	assert.Equal(t, 12, b.Tokens(), "never above its size")
	assert.False(t, b.Take(13))
	assert.True(t, b.Take(12))
	assert.Zero(t, b.Tokens())
}

func TestBudget_Nil(t *testing.T) {
	t.Parallel()
	var b *Budget
	assert.True(t, b.Take(CostTimeout))
	assert.True(t, b.Take(math.MaxInt))
	b.Give(5)
	assert.Equal(t, -1, b.Tokens())
}

func TestBudget_Concurrent(t *testing.T) {
	t.Parallel()
	b := NewBudget(1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if b.Take(CostRetry) {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 200, taken, "exactly the budget, no more")
	assert.Zero(t, b.Tokens())
}

// FuzzParseRetryAfter: never panics, never negative, and a value it
// accepts as seconds round-trips.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "1", "120", "-1", "1.5", "99999999999999999999",
		"Wed, 01 May 2024 12:00:30 GMT", "Wednesday, 01-May-24 12:01:00 GMT", "Wed May  1 12:00:05 2024", "garbage", " 7 "} {
		f.Add(s)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("negative wait %v for %q", d, v)
		}
		if !ok && d != 0 {
			t.Fatalf("rejected %q but returned %v", v, d)
		}
		if ok {
			if _, err := http.ParseTime(v); err == nil && d > 0 && now.Add(d).Before(now) {
				t.Fatalf("date %q in the past of now gave %v", v, d)
			}
		}
	})
}
