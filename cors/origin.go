package cors

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// OriginPattern is one parsed entry. The zero value matches nothing.
type OriginPattern struct {
	any      bool
	scheme   string // lower case
	host     string // lower case; for a wildcard, the domain after "*."
	port     string // "" for the scheme's default
	wildcard bool
}

// ParseOrigin parses one allowed-origin entry. Its errors say why the
// entry can never match and how to write it. The configuration validates
// entries with it and the Handler matches with what it returns, so an
// entry that validates is one that can match.
//
// An entry is "*" (any origin), an origin written as browsers send it,
// SCHEME://HOST[:PORT] ("https://app.example.com", "http://127.0.0.1:3000",
// "http://[::1]:8080"), or a subdomain wildcard, SCHEME://*.DOMAIN[:PORT].
// Scheme and host are case-insensitive and a scheme's default port (80 for
// http, 443 for https) may be written or not, as browsers never send it.
//
// A wildcard stands for one or more whole leftmost labels:
// "https://*.example.com" matches "https://a.example.com" and
// "https://a.b.example.com", but neither "https://example.com" itself, nor
// "https://example.com.evil.com", "https://evilexample.com",
// "http://a.example.com" (another scheme) or "https://a.example.com:8443"
// (another port). DOMAIN must have at least two labels, so that "*.com"
// can not open a whole top-level domain.
//
// Entries that could never match are refused with the reason: a path or a
// trailing "/", a query or fragment, user information, a host that is not
// ASCII (browsers send international names in their punycode form), a "*"
// anywhere but as the whole leftmost label, and "null", which sandboxed
// frames, file: pages and cross-origin redirects send, so that allowing it
// would allow anyone.
func ParseOrigin(s string) (OriginPattern, error) {
	if s == "*" {
		return OriginPattern{any: true}, nil
	}
	if s == "" {
		return OriginPattern{}, errors.New("must not be empty")
	}
	if strings.EqualFold(s, "null") {
		return OriginPattern{}, errors.New(`the "null" origin cannot be allowed: sandboxed frames, file: pages and redirects send it, so anyone can`)
	}
	p, err := parse(s, true)
	if err != nil {
		return OriginPattern{}, fmt.Errorf("%q: %w", s, err)
	}
	return p, nil
}

// parse parses SCHEME://HOST[:PORT]; wildcard allows "*." before the host.
func parse(s string, wildcard bool) (OriginPattern, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return OriginPattern{}, errors.New(`want SCHEME://HOST[:PORT], like "https://app.example.com"`)
	}
	p := OriginPattern{scheme: strings.ToLower(scheme)}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return OriginPattern{}, fmt.Errorf("an origin has no path, query or fragment: browsers send %q", s[:len(s)-len(rest)+i])
	}
	if strings.Contains(rest, "@") {
		return OriginPattern{}, errors.New("an origin has no user information")
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return OriginPattern{}, err
	}
	if port == defaultPort(p.scheme) {
		port = ""
	}
	p.port = port
	host = strings.ToLower(host)
	if wildcard && strings.HasPrefix(host, "*.") {
		host = host[2:]
		if err := validDomain(host); err != nil {
			return OriginPattern{}, err
		}
		if !strings.Contains(host, ".") {
			return OriginPattern{}, fmt.Errorf("a wildcard needs at least two labels after it, like \"%s://*.example.%s\"", p.scheme, host)
		}
		p.host, p.wildcard = host, true
		return p, nil
	}
	if strings.Contains(host, "*") {
		return OriginPattern{}, fmt.Errorf("a wildcard must be the whole leftmost label of the host, like \"%s://*.example.com\"", p.scheme)
	}
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(host[1:], "]"))
		if err != nil || !strings.HasSuffix(host, "]") || !a.Is6() {
			return OriginPattern{}, fmt.Errorf("invalid IPv6 host %s", host)
		}
	} else if err := validDomain(host); err != nil {
		return OriginPattern{}, err
	}
	p.host = host
	return p, nil
}

func validScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// splitHostPort splits HOST[:PORT], HOST possibly a bracketed IPv6
// address; the port, when given, must be a number from 1 to 65535.
func splitHostPort(s string) (host, port string, err error) {
	host = s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("invalid IPv6 host %s", s)
		}
		host, port = s[:end+1], s[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", "", fmt.Errorf("invalid host %s", s)
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	if host == "" {
		return "", "", errors.New("no host")
	}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", "", fmt.Errorf("invalid port %q", port)
		}
	}
	return host, port, nil
}

// validDomain checks a lower-cased host name: dot-separated labels of
// ASCII letters, digits and hyphens, none empty.
func validDomain(h string) error {
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return fmt.Errorf("invalid host %q: empty label", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 0x80:
				return fmt.Errorf("invalid host %q: write international names in their ASCII (punycode) form, as browsers send them", h)
			case !isLetter(c) && !isDigit(c) && c != '-' && c != '_':
				return fmt.Errorf("invalid host %q: %q is not allowed", h, string(c))
			}
		}
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// Any reports whether p is "*".
func (p OriginPattern) Any() bool { return p.any }

// Match reports whether the value of an Origin header is allowed by p. A
// value that is not a well-formed origin matches only "*".
func (p OriginPattern) Match(origin string) bool {
	if p.any {
		return true
	}
	if p.scheme == "" {
		return false
	}
	o, err := parse(origin, false)
	if err != nil || o.scheme != p.scheme || o.port != p.port {
		return false
	}
	if !p.wildcard {
		return o.host == p.host
	}
	// At least one whole label before ".domain"; parse has checked that
	// every label of o.host is non-empty.
	return len(o.host) > len(p.host)+1 && strings.HasSuffix(o.host, p.host) && o.host[len(o.host)-len(p.host)-1] == '.'
}

// String is the entry in canonical form: lower case, without the
// scheme's default port.
func (p OriginPattern) String() string {
	if p.any {
		return "*"
	}
	if p.scheme == "" {
		return ""
	}
	host := p.host
	if p.wildcard {
		host = "*." + host
	}
	if p.port != "" {
		return p.scheme + "://" + host + ":" + p.port
	}
	return p.scheme + "://" + host
}
