package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/interceptors/identity"
)

// maxAPIKeyBytes bounds a presented API key; it is hashed, so any length
// would do, but there is no reason to hash megabytes.
const maxAPIKeyBytes = 4 << 10

// apiKeyProvider checks a static key sent in one metadata key against the
// configured SHA-256 hashes.
type apiKeyProvider struct {
	header string
	keys   []apiKey
}

type apiKey struct {
	name   string
	hash   []byte
	scopes []string
}

// APIKey is one accepted API key. Only its hash is kept.
type APIKey struct {
	// Name becomes the caller's subject.
	Name string
	// Hash is "sha256:" and the 64 hex digits of the key's SHA-256, as
	// HashAPIKey writes it and ParseKeyHash reads it.
	Hash   string
	Scopes []string
}

// checkAPIKeys reports the first problem of WithAPIKeys' arguments.
func checkAPIKeys(header string, keys []APIKey) error {
	if err := identity.ValidMetadataKey(header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if len(keys) == 0 {
		return errors.New("no key")
	}
	names := map[string]bool{}
	hashes := map[string]bool{}
	for i, k := range keys {
		h, err := ParseKeyHash(k.Hash)
		switch {
		case k.Name == "":
			return fmt.Errorf("key %d has no name", i)
		case names[k.Name]:
			return fmt.Errorf("key name %q is used twice", k.Name)
		case err != nil:
			return fmt.Errorf("api key %q: hash %w", k.Name, err)
		case hashes[string(h)]:
			return fmt.Errorf("api key %q: its hash is also another key's", k.Name)
		}
		names[k.Name], hashes[string(h)] = true, true
	}
	return nil
}

// newAPIKeyProvider builds the provider of keys checkAPIKeys accepted.
func newAPIKeyProvider(header string, keys []APIKey) *apiKeyProvider {
	p := &apiKeyProvider{header: header}
	for _, k := range keys {
		h, _ := ParseKeyHash(k.Hash) // checked by checkAPIKeys
		p.keys = append(p.keys, apiKey{name: k.Name, hash: h, scopes: k.Scopes})
	}
	return p
}

func (p *apiKeyProvider) name() string { return identity.ProviderAPIKey }

func (p *apiKeyProvider) present(_ context.Context, md metadata.MD) bool {
	return len(md.Get(p.header)) > 0
}

func (p *apiKeyProvider) authenticate(_ context.Context, md metadata.MD) (*identity.Identity, error) {
	vals := md.Get(p.header)
	if len(vals) != 1 {
		return nil, unauthenticated("more than one " + p.header + " value")
	}
	if len(vals[0]) == 0 {
		return nil, unauthenticated("empty API key")
	}
	if len(vals[0]) > maxAPIKeyBytes {
		return nil, unauthenticated(fmt.Sprintf("API key longer than %d bytes", maxAPIKeyBytes))
	}
	sum := sha256.Sum256([]byte(vals[0]))
	// Compare with every key, without stopping at a match, so that timing
	// says nothing about which key (or how much of it) matched.
	match := -1
	for i, k := range p.keys {
		if subtle.ConstantTimeCompare(sum[:], k.hash) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, unauthenticated("unknown API key")
	}
	k := p.keys[match]
	return &identity.Identity{
		Subject:  k.name,
		Provider: identity.ProviderAPIKey,
		Scopes:   append([]string(nil), k.scopes...),
		Claims:   map[string]any{"key_name": k.name},
	}, nil
}

// HashAPIKey returns the form of an API key's hash that APIKey.Hash (and
// the configuration) holds: "sha256:" and 64 hex digits.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("sha256:%x", sum)
}

// ParseKeyHash decodes an API key hash, "sha256:" and 64 hex digits, into
// the 32 bytes of the digest.
func ParseKeyHash(h string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(h, "sha256:")
	if !ok {
		return nil, errors.New("must be \"sha256:\" followed by 64 hex digits (the key itself is never stored)")
	}
	b, err := hex.DecodeString(hexPart)
	if err != nil || len(b) != 32 {
		return nil, errors.New("must be \"sha256:\" followed by 64 hex digits")
	}
	return b, nil
}
