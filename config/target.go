package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// targetSchemes are the resolvers a gRPC client knows without extra
// imports, plus xds, which server/ may link in.
var targetSchemes = []string{"dns", "passthrough", "unix", "unix-abstract", "xds"}

// validTarget checks t the way grpc.NewClient reads it: a URL whose scheme
// names a resolver, or else a host:port handed to the DNS resolver. Unlike
// gRPC, it rejects a URL with an unknown scheme ("http://x:1") instead of
// resolving the whole string as a host name, and it wants an explicit port
// on a bare host:port. Errors start with "must" or "has" so that callers can
// prefix the key.
func validTarget(t string) error {
	if t == "" {
		return errors.New("must not be empty")
	}
	if strings.IndexFunc(t, unicode.IsSpace) >= 0 {
		return errors.New("must not contain spaces")
	}
	scheme, rest, _ := strings.Cut(t, ":")
	known := false
	for _, s := range targetSchemes {
		known = known || s == scheme
	}
	if !known {
		if strings.HasPrefix(rest, "//") {
			return fmt.Errorf("has unknown scheme %q; write host:port, or a URL with a gRPC resolver scheme: %s", scheme, strings.Join(targetSchemes, ", "))
		}
		return validHostPort(t, false)
	}
	u, err := url.Parse(t)
	if err != nil {
		return fmt.Errorf("must be a valid URL: %v", errors.Unwrap(err))
	}
	endpoint := u.Path
	if endpoint == "" {
		endpoint = u.Opaque
	}
	endpoint = strings.TrimPrefix(endpoint, "/")
	switch scheme {
	case "dns":
		if endpoint == "" {
			return errors.New("must name a host after dns:///")
		}
		return validHostPort(endpoint, true)
	case "unix", "unix-abstract":
		if u.Host != "" {
			return fmt.Errorf("must not have an authority: write %s:///absolute/path or %s:relative/path", scheme, scheme)
		}
	}
	if endpoint == "" {
		return fmt.Errorf("must name an endpoint after the %q scheme", scheme)
	}
	return nil
}

// validHostPort checks host:port, where the port may be left out when
// optionalPort is true.
func validHostPort(s string, optionalPort bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if optionalPort && errors.As(err, &ae) && ae.Err == "missing port in address" {
			host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
		} else {
			return fmt.Errorf("must be host:port, got %q", s)
		}
	}
	if host == "" {
		return fmt.Errorf("must name a host, got %q", s)
	}
	if strings.ContainsAny(host, "/?#@[]") {
		return fmt.Errorf("has an invalid host %q", host)
	}
	if port != "" || !optionalPort {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("must have a port between 1 and 65535, got %q", port)
		}
	}
	return nil
}

// validListenAddr checks a listen address: host:port with a numeric port,
// where the host may be empty (every interface) and the port 0 (any free
// port).
func validListenAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port, like \"127.0.0.1:8080\" or \":8080\", got %q", s)
	}
	if strings.ContainsAny(host, "/?#@[]") || strings.IndexFunc(host, unicode.IsSpace) >= 0 {
		return fmt.Errorf("has an invalid host %q", host)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("must have a numeric port between 0 and 65535, got %q", port)
	}
	return nil
}
