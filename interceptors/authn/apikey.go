package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/config"
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

func newAPIKeyProvider(cfg config.APIKeyAuth) (*apiKeyProvider, error) {
	p := &apiKeyProvider{header: cfg.Header}
	for _, k := range cfg.Keys {
		h, err := config.ParseKeyHash(k.Hash)
		if err != nil {
			return nil, fmt.Errorf("api key %q: hash %w", k.Name, err)
		}
		p.keys = append(p.keys, apiKey{name: k.Name, hash: h, scopes: k.Scopes})
	}
	return p, nil
}

func (p *apiKeyProvider) name() string { return config.ProviderAPIKey }

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
		Provider: config.ProviderAPIKey,
		Scopes:   append([]string(nil), k.scopes...),
		Claims:   map[string]any{"key_name": k.name},
	}, nil
}

// HashAPIKey returns the configuration form of an API key's hash,
// "sha256:<hex>", for config.APIKey.Hash.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("sha256:%x", sum)
}
