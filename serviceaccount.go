package atlaskeys

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/seed243cb23e/atlaskeys/internal/retry"
)

// WithServiceAccount authenticates as an Atlas service account with the
// OAuth 2.0 client-credentials flow, an alternative to WithDigestAuth (give
// one of the two). The token URL is <base URL>/api/oauth/token. The access
// token is fetched once, shared by all goroutines and reused until shortly
// before it expires; Client.Close revokes it.
func WithServiceAccount(clientID, clientSecret string) Option {
	return func(s *settings) error {
		if clientID == "" {
			return invalidArg("WithServiceAccount clientID", "must not be empty")
		}
		if clientSecret == "" {
			return invalidArg("WithServiceAccount clientSecret", "must not be empty")
		}
		s.clientID, s.secret = clientID, clientSecret
		return nil
	}
}

// minTokenInterval is the least time between two token requests after a
// failed one: Atlas allows 10 token requests a minute.
const minTokenInterval = 6 * time.Second

// tokenTransport adds "Authorization: Bearer" to each request, with one
// cached token shared by all goroutines.
type tokenTransport struct {
	cfg       clientcredentials.Config
	next      http.RoundTripper
	tokenHTTP *http.Client // for the token and revoke endpoints: no auth
	revokeURL string

	mu       sync.Mutex
	tok      *oauth2.Token
	refresh  time.Time     // when to fetch a new token, before expiry
	fetching chan struct{} // closed when the fetch under way ends
	err      error         // the last fetch's error, returned until holdUntil
	holdTill time.Time
}

func newTokenTransport(base, clientID, secret string, next http.RoundTripper) *tokenTransport {
	return &tokenTransport{
		cfg: clientcredentials.Config{
			ClientID:     clientID,
			ClientSecret: secret,
			TokenURL:     base + "/api/oauth/token",
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		next:      next,
		tokenHTTP: &http.Client{Transport: next, CheckRedirect: noRedirects},
		revokeURL: base + "/api/oauth/revoke",
	}
}

// RoundTrip sends req with the cached token. A 401 on a cached token fetches
// a new token once and sends the request once more.
func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, fresh, err := t.token(req.Context(), nil)
	if err != nil {
		closeReqBody(req)
		return nil, &tokenError{err}
	}
	resp, err := t.next.RoundTrip(withBearer(req, tok, req.Body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || fresh || req.Body != nil && req.GetBody == nil {
		return resp, err
	}
	// Atlas refused a token we still thought valid (revoked, or the clock
	// disagrees): fetch a new one, once.
	var body io.ReadCloser = http.NoBody
	if req.GetBody != nil {
		b, gerr := req.GetBody()
		if gerr != nil {
			return resp, nil
		}
		body = b
	}
	tok2, _, err := t.token(req.Context(), tok)
	if err != nil {
		_ = body.Close()
		return resp, nil // the caller sees Atlas's 401
	}
	closeBody(resp.Body)
	return t.next.RoundTrip(withBearer(req, tok2, body))
}

func withBearer(req *http.Request, tok *oauth2.Token, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	if req.Body == nil {
		r.Body = nil
	} else {
		r.Body = body
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return r
}

// tokenError is a failure to get a token: the API request itself was never
// sent, so even a POST may be tried again.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func closeReqBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// token returns a valid token and whether it was fetched by this call. When
// stale is the cached token, it is dropped first (Atlas refused it).
func (t *tokenTransport) token(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, bool, error) {
	for {
		t.mu.Lock()
		if stale != nil && t.tok == stale {
			t.tok = nil
		}
		now := time.Now()
		switch {
		case t.tok != nil && now.Before(t.refresh):
			tok := t.tok
			t.mu.Unlock()
			return tok, false, nil
		case t.err != nil && now.Before(t.holdTill):
			err := t.err
			t.mu.Unlock()
			return nil, false, err
		case t.fetching != nil:
			ch := t.fetching
			t.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		ch := make(chan struct{})
		t.fetching = ch
		t.mu.Unlock()

		tok, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.tokenHTTP))
		t.mu.Lock()
		t.fetching = nil
		close(ch)
		if err != nil {
			err = t.fetchError(err)
			// Hold off only when Atlas answered (a wrong secret, a 429):
			// asking again at once would get the same answer. A connection
			// failure is left to the caller's retry policy.
			var ae *APIError
			if ctx.Err() == nil && errors.As(err, &ae) {
				t.err = err
				t.holdTill = time.Now().Add(holdOff(err))
			}
			t.mu.Unlock()
			return nil, false, err
		}
		t.tok, t.err = tok, nil
		t.refresh = refreshTime(time.Now(), tok.Expiry)
		t.mu.Unlock()
		return tok, true, nil
	}
}

// refreshTime is when to replace a token fetched at now: a tenth of its
// life (at most a minute) before it expires.
func refreshTime(now, expiry time.Time) time.Time {
	if expiry.IsZero() {
		return now.Add(time.Hour)
	}
	margin := min(expiry.Sub(now)/10, time.Minute)
	return expiry.Add(-margin)
}

// holdOff is how long a failed token request is answered from memory: the
// Retry-After Atlas sent, else the token endpoint's rate-limit interval.
func holdOff(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		if d, ok := retry.ParseRetryAfter(ae.RetryAfter, time.Now()); ok {
			return d
		}
	}
	return minTokenInterval
}

// fetchError turns an oauth2 error into an *APIError; neither ever holds the
// client secret.
func (t *tokenTransport) fetchError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return err
	}
	// An OAuth error body ({"error":"invalid_client",...}) fills ErrorCode;
	// otherwise the body may be an Atlas error document (a 429, say).
	ae := newAPIError(re.Response, re.Body)
	ae.Method, ae.Path = http.MethodPost, "/api/oauth/token"
	if re.ErrorCode != "" {
		ae.ErrorCode, ae.Detail, ae.Body = re.ErrorCode, re.ErrorDescription, ""
		if ae.Detail == "" {
			ae.Detail = "service account token request refused"
		}
	}
	return ae
}

// revoke revokes the cached token, if any, at Atlas.
func (t *tokenTransport) revoke(ctx context.Context) error {
	t.mu.Lock()
	tok := t.tok
	t.tok = nil
	t.mu.Unlock()
	if tok == nil {
		return nil
	}
	form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.revokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(t.cfg.ClientID), url.QueryEscape(t.cfg.ClientSecret))
	resp, err := t.tokenHTTP.Do(req)
	if err != nil {
		return errors.New("atlaskeys: revoking service account token: " + unwrapURLError(err).Error())
	}
	defer closeBody(resp.Body)
	if resp.StatusCode/100 != 2 {
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		return newAPIError(resp, body[:n])
	}
	return nil
}
