package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// maxJWKSBytes bounds a key set document; real ones are a few KiB.
const maxJWKSBytes = 1 << 20

// KeySource fetches a JSON Web Key Set document.
type KeySource interface {
	FetchKeys(ctx context.Context) ([]byte, error)
}

// KeySourceFunc adapts a function to KeySource.
type KeySourceFunc func(ctx context.Context) ([]byte, error)

// FetchKeys calls f.
func (f KeySourceFunc) FetchKeys(ctx context.Context) ([]byte, error) { return f(ctx) }

// urlSource fetches a key set over HTTP(S).
func urlSource(client *http.Client, url string) KeySourceFunc {
	return func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			return nil, fmt.Errorf("GET %s: status %s", url, resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", url, err)
		}
		if len(b) > maxJWKSBytes {
			return nil, fmt.Errorf("GET %s: key set larger than %d bytes", url, maxJWKSBytes)
		}
		return b, nil
	}
}

// fileSource reads a key set from a file.
func fileSource(path string) KeySourceFunc {
	return func(context.Context) ([]byte, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxJWKSBytes {
			return nil, fmt.Errorf("%s: key set larger than %d bytes", path, maxJWKSBytes)
		}
		return b, nil
	}
}

// verifyKey is one public key a token may be signed with.
type verifyKey struct {
	kid string
	alg string // the JWK's "alg"; empty when the JWK does not pin one
	pub any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits reports whether a token signed with alg may be verified with k: the
// algorithm must belong to the key's type (and curve), and equal the key's
// own "alg" when it has one. This is what rules out HS256 tokens checked
// against an RSA key, whatever the token says.
func (k verifyKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// keySet is an immutable parsed key set.
type keySet struct {
	byKID map[string][]verifyKey
	all   []verifyKey
}

func (s *keySet) hasKID(kid string) bool {
	_, ok := s.byKID[kid]
	return ok
}

// candidates returns the keys that may verify a token with this kid and
// alg: the keys with that kid, or every key when the token names none.
func (s *keySet) candidates(kid, alg string) []verifyKey {
	from := s.all
	if kid != "" {
		from = s.byKID[kid]
	}
	var out []verifyKey
	for _, k := range from {
		if k.fits(alg) {
			out = append(out, k)
		}
	}
	return out
}

// parseKeySet parses a JWKS document, keeping the signature-verification
// keys of supported types. It fails when no usable key remains, so that a
// broken document never replaces good keys.
func parseKeySet(b []byte) (*keySet, error) {
	var doc jwkset.JWKSMarshal
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse key set: %w", err)
	}
	s := &keySet{byKID: map[string][]verifyKey{}}
	var skipped []error
	for i, m := range doc.Keys {
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		if m.KTY == jwkset.KtyOct || m.D != "" {
			// Shared secrets and private keys have no place in a published
			// key set; ignore them rather than verify with them.
			skipped = append(skipped, fmt.Errorf("key %d: not a public key", i))
			continue
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		k := verifyKey{kid: m.KID, alg: string(m.ALG)}
		switch pub := jwk.Key().(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				skipped = append(skipped, fmt.Errorf("key %d: RSA key shorter than 2048 bits", i))
				continue
			}
			k.pub = pub
		case *ecdsa.PublicKey, ed25519.PublicKey:
			k.pub = pub
		default:
			skipped = append(skipped, fmt.Errorf("key %d: unsupported key type %T", i, pub))
			continue
		}
		s.all = append(s.all, k)
		s.byKID[k.kid] = append(s.byKID[k.kid], k)
	}
	if len(s.all) == 0 {
		return nil, fmt.Errorf("key set has no usable signing key: %w", errors.Join(skipped...))
	}
	return s, nil
}

// keyCache holds the current key set. It refreshes it in the background
// when it is older than refresh, and on demand (refetch) when a token names
// an unknown kid, but never starts a fetch less than minGap after the
// previous one: a flood of unknown kids costs at most one fetch per minGap,
// and concurrent callers share the fetch in flight. A failed fetch keeps
// the previous keys.
type keyCache struct {
	src     KeySource
	refresh time.Duration
	minGap  time.Duration
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	keys        *keySet       // nil until a fetch succeeds
	lastAttempt time.Time     // start of the last fetch
	lastSuccess time.Time     // start of the last successful fetch
	lastErr     error         // why the last fetch failed; nil after a success
	fetching    chan struct{} // closed when the fetch in flight ends
	closed      bool
}

func newKeyCache(src KeySource, refresh, minGap, timeout time.Duration, now func() time.Time, logger *slog.Logger) *keyCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &keyCache{src: src, refresh: refresh, minGap: minGap, timeout: timeout, now: now, logger: logger, ctx: ctx, cancel: cancel}
}

// load fetches the keys once, synchronously, and reports why no keys
// could be had.
func (c *keyCache) load() error {
	c.mu.Lock()
	ch := c.startLocked()
	c.mu.Unlock()
	<-ch
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.keys != nil:
		return nil
	case c.lastErr != nil:
		return c.lastErr
	}
	return errNoKeys
}

// current returns the key set (nil before the first successful fetch),
// starting a background refresh when it is due.
func (c *keyCache) current() *keySet {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.fetching == nil && !c.closed && now.Sub(c.lastSuccess) >= c.refresh && now.Sub(c.lastAttempt) >= c.minGap {
		c.startLocked()
	}
	return c.keys
}

// refetch waits for the fetch in flight, or starts one when minGap allows,
// and returns the key set afterwards. It returns early with ctx's error.
func (c *keyCache) refetch(ctx context.Context) (*keySet, error) {
	c.mu.Lock()
	ch := c.fetching
	if ch == nil {
		if c.closed || c.now().Sub(c.lastAttempt) < c.minGap {
			ks := c.keys
			c.mu.Unlock()
			return ks, nil
		}
		ch = c.startLocked()
	}
	c.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys, nil
}

// startLocked starts a fetch; c.mu must be held and no fetch in flight.
func (c *keyCache) startLocked() chan struct{} {
	ch := make(chan struct{})
	if c.closed {
		close(ch)
		return ch
	}
	started := c.now()
	c.fetching = ch
	c.lastAttempt = started
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ks, err := c.fetch()
		c.mu.Lock()
		if err != nil {
			c.logger.Warn("jwks fetch failed; keeping the previous keys", "error", err)
		} else {
			c.keys, c.lastSuccess = ks, started
		}
		c.lastErr = err
		c.fetching = nil
		close(ch)
		c.mu.Unlock()
	}()
	return ch
}

func (c *keyCache) fetch() (*keySet, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	b, err := c.src.FetchKeys(ctx)
	if err != nil {
		return nil, err
	}
	return parseKeySet(b)
}

// close stops any fetch in flight and waits for it.
func (c *keyCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
