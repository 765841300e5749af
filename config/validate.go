package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// Validate reports every semantic problem of c at once, as an *Errors whose
// entries have a Path but no position; nil when c is usable. It checks that
// addresses, targets and method patterns are well-formed, that limits are in
// range, that settings which depend on each other are given together, and
// that every file named exists and is readable (relative paths are resolved
// against the working directory). Parse calls it.
func (c *Config) Validate() error {
	if c == nil {
		return Errors{{Msg: "no configuration (nil *Config)"}}.err()
	}
	return c.validate().err()
}

func (c *Config) validate() Errors {
	var errs Errors
	c.validateAddrs(&errs)
	c.TLS.validate(&errs, "tls")
	seenSet := map[string]int{}
	for i, f := range c.DescriptorSets {
		path := "descriptor_sets[" + strconv.Itoa(i) + "]"
		if f == "" {
			errs.add(path, "must not be empty")
			continue
		}
		if j, dup := seenSet[f]; dup {
			errs.add(path, fmt.Sprintf("%q is listed twice (also descriptor_sets[%d])", f, j))
			continue
		}
		seenSet[f] = i
		checkFile(&errs, path, f)
	}
	c.validateUpstreams(&errs)
	c.REST.validate(&errs, "rest")
	c.CORS.validate(&errs, "cors")
	c.Contracts.validate(&errs, "contracts")
	c.Server.validate(&errs, "server")
	c.Limits.validate(&errs, "limits", &c.Server)
	c.Policy.validate(&errs, "policy", &c.TLS)
	c.RateLimits.validate(&errs, "rate_limits")
	c.Tracing.validate(&errs, "tracing")
	checkEnum(&errs, "log.level", c.Log.Level)
	checkEnum(&errs, "log.format", c.Log.Format)
	return errs
}

func (c *Config) validateAddrs(errs *Errors) {
	if c.Listen == "" {
		errs.add("listen", "must not be empty")
	} else if err := validListenAddr(c.Listen); err != nil {
		errs.add("listen", err.Error())
	}
	if c.AdminAddr() == "" {
		return
	}
	if err := validListenAddr(c.Admin); err != nil {
		errs.add("admin", err.Error())
		return
	}
	if sameListener(c.Listen, c.Admin) {
		errs.add("admin", fmt.Sprintf("must differ from listen (%q): both would bind the same port", c.Listen))
	}
}

// sameListener reports whether two listen addresses would bind the same
// port: equal non-zero ports on the same host or on a wildcard host.
func sameListener(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

func (t *ServerTLS) validate(errs *Errors, path string) {
	certPairs(errs, path, t.CertFile, t.KeyFile)
	checkFile(errs, path+".client_ca_file", t.ClientCAFile)
	if !checkEnum(errs, path+".client_auth", t.ClientAuth) {
		return
	}
	switch {
	case t.ClientAuth != ClientAuthNone && t.ClientCAFile == "":
		errs.add(path+".client_ca_file", fmt.Sprintf("must be set when client_auth is %s, to verify client certificates", t.ClientAuth))
	case t.ClientAuth == ClientAuthNone && t.ClientCAFile != "":
		errs.add(path+".client_auth", "must be request or require_and_verify when client_ca_file is set; with none, client certificates are not asked for")
	}
	if t.CertFile == "" && t.KeyFile == "" && (t.ClientCAFile != "" || t.ClientAuth != ClientAuthNone) {
		errs.add(path+".cert_file", "must be set to use client certificates: TLS is off without it")
	}
	checkEnum(errs, path+".min_version", t.MinVersion)
}

// certPairs checks that a certificate and its key are given together and
// readable.
func certPairs(errs *Errors, path, cert, key string) {
	switch {
	case cert != "" && key == "":
		errs.add(path+".key_file", "must be set when cert_file is set")
	case cert == "" && key != "":
		errs.add(path+".cert_file", "must be set when key_file is set")
	}
	checkFile(errs, path+".cert_file", cert)
	checkFile(errs, path+".key_file", key)
}

func (c *Config) validateUpstreams(errs *Errors) {
	names := map[string]int{}
	patterns := map[string]string{} // pattern -> path of its first use
	owner := map[string]int{}       // pattern -> upstream index
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		path := "upstreams[" + strconv.Itoa(i) + "]"
		if err := validTarget(u.Target); err != nil {
			errs.add(path+".target", err.Error())
		}
		if name := u.EffectiveName(); name != "" {
			if j, dup := names[name]; dup {
				how := ""
				if u.Name == "" {
					how = " (taken from target)"
				}
				errs.add(path+".name", fmt.Sprintf("%q%s is already the name of upstreams[%d]; give each upstream its own name, or merge their methods", name, how, j))
			} else {
				names[name] = i
			}
		}
		if len(u.Methods) == 0 {
			errs.add(path+".methods", "must list at least one method pattern (\"*\" routes every method)")
		}
		if err := httprule.CheckPrefix(u.RESTPathPrefix); err != nil {
			errs.add(path+".rest_path_prefix", err.Error())
		}
		for k, p := range u.Methods {
			mpath := path + ".methods[" + strconv.Itoa(k) + "]"
			if err := ValidPattern(p); err != nil {
				errs.add(mpath, err.Error())
				continue
			}
			if first, dup := patterns[p]; dup {
				if owner[p] == i {
					errs.add(mpath, fmt.Sprintf("pattern %q is listed twice (also %s)", p, first))
				} else {
					other := "upstream"
					if name := c.Upstreams[owner[p]].EffectiveName(); name != "" {
						other = fmt.Sprintf("upstream %q", name)
					}
					errs.add(mpath, fmt.Sprintf("pattern %q is also routed to %s (%s); a pattern must name one upstream", p, other, first))
				}
				continue
			}
			patterns[p], owner[p] = mpath, i
		}
		u.TLS.validate(errs, path+".tls")
		u.Keepalive.validate(errs, path+".keepalive")
		u.Retry.validate(errs, path+".retry")
		u.OutlierDetection.validate(errs, path+".outlier_detection")
		checkEnum(errs, path+".load_balancing", u.LoadBalancing)
		checkDuration(errs, path+".connect_timeout", u.ConnectTimeout, time.Nanosecond)
		if !u.HealthCheck.Enabled && u.HealthCheck.Service != "" {
			errs.add(path+".health_check.enabled", "must be true when health_check.service is set")
		}
	}
}

func (t *UpstreamTLS) validate(errs *Errors, path string) {
	if !t.Enabled {
		if *t != (UpstreamTLS{}) {
			errs.add(path+".enabled", "must be true when other tls keys are set; otherwise the upstream is dialed in cleartext")
		}
		return
	}
	certPairs(errs, path, t.CertFile, t.KeyFile)
	checkFile(errs, path+".ca_file", t.CAFile)
	if t.InsecureSkipVerify && t.CAFile != "" {
		errs.add(path+".insecure_skip_verify", "contradicts ca_file: the CAs would never be used; remove one")
	}
}

func (k *UpstreamKeepalive) validate(errs *Errors, path string) {
	switch {
	case k.Time < 0:
		errs.add(path+".time", "must not be negative")
	case k.Time > 0 && k.Time < Duration(10*time.Second):
		errs.add(path+".time", fmt.Sprintf("must be 0 (no pings) or at least 10s, gRPC's minimum; got %s", k.Time))
	}
	checkDuration(errs, path+".timeout", k.Timeout, time.Nanosecond)
}

func (s *Server) validate(errs *Errors, path string) {
	if s.MaxConcurrentStreams == 0 {
		errs.add(path+".max_concurrent_streams", "must be at least 1")
	}
	checkSize(errs, path+".max_recv_msg_size", s.MaxRecvMsgSize, 1, 1<<30)
	checkSize(errs, path+".max_send_msg_size", s.MaxSendMsgSize, 1, 1<<30)
	checkSize(errs, path+".max_header_list_size", s.MaxHeaderListSize, 1, 16<<20)
	checkWindow(errs, path+".initial_window_size", s.InitialWindowSize)
	checkWindow(errs, path+".initial_conn_window_size", s.InitialConnWindowSize)
	k, kpath := &s.Keepalive, path+".keepalive"
	checkDuration(errs, kpath+".time", k.Time, time.Second)
	checkDuration(errs, kpath+".timeout", k.Timeout, time.Nanosecond)
	checkDuration(errs, kpath+".min_time", k.MinTime, 0)
	checkDuration(errs, kpath+".max_connection_idle", k.MaxConnectionIdle, 0)
	checkDuration(errs, kpath+".max_connection_age", k.MaxConnectionAge, 0)
	checkDuration(errs, kpath+".max_connection_age_grace", k.MaxConnectionAgeGrace, 0)
	checkDuration(errs, path+".sniff_timeout", s.SniffTimeout, time.Nanosecond)
	checkDuration(errs, path+".shutdown_grace", s.ShutdownGrace, 0)
}

// checkDuration rejects negative durations and durations below minimum;
// a minimum of time.Nanosecond means the duration must be positive.
func checkDuration(errs *Errors, path string, d Duration, minimum time.Duration) {
	switch {
	case d < 0:
		errs.add(path, "must not be negative")
	case time.Duration(d) < minimum:
		if minimum <= time.Nanosecond {
			errs.add(path, "must be greater than 0")
		} else {
			errs.add(path, fmt.Sprintf("must be at least %s, got %s", Duration(minimum), d))
		}
	}
}

func checkSize(errs *Errors, path string, b, lo, hi ByteSize) {
	if b < lo || b > hi {
		errs.add(path, fmt.Sprintf("must be between %s and %s, got %s", lo, hi, b))
	}
}

// checkWindow accepts 0 (gRPC's dynamic window) or a size gRPC honours:
// it ignores windows under 64KiB, and HTTP/2 caps them at 2^31-1.
func checkWindow(errs *Errors, path string, b ByteSize) {
	if b != 0 && (b < 64<<10 || b > 1<<31-1) {
		errs.add(path, fmt.Sprintf("must be 0 (dynamic) or between 64KiB and 2147483647, got %s", b))
	}
}

// checkEnum reports whether v is one of its type's values.
func checkEnum[E interface {
	~string
	enum
}](errs *Errors, path string, v E) bool {
	choices := v.choices()
	if slices.Contains(choices, string(v)) {
		return true
	}
	errs.add(path, fmt.Sprintf("must be one of %s, got %q", strings.Join(choices, ", "), string(v)))
	return false
}

// checkFile reports a named file that cannot be opened for reading or is a
// directory; an empty name is not checked.
func checkFile(errs *Errors, path, name string) {
	if name == "" {
		return
	}
	f, err := os.Open(name)
	if err != nil {
		errs.add(path, fmt.Sprintf("cannot read %q: %v", name, unwrapPathError(err)))
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		errs.add(path, fmt.Sprintf("cannot read %q: %v", name, unwrapPathError(err)))
	} else if st.IsDir() {
		errs.add(path, fmt.Sprintf("%q is a directory, not a file", name))
	}
}

// unwrapPathError drops the "open NAME:" prefix, which the message already
// carries.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// addProblems adds the problems an owning package's Validate reported in
// err (its *FieldError values, joined) under path, so that a value is
// judged by one check, worded once, whether it comes from this file or a
// direct caller of the package. Other errors are reported at path itself.
func addProblems(errs *Errors, path string, err error) {
	if err == nil {
		return
	}
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var (
			de *deadline.FieldError
			re *ratelimit.FieldError
			ae *authz.FieldError
		)
		switch {
		case errors.As(e, &de):
			errs.add(path+"."+de.Field, de.Problem)
		case errors.As(e, &re):
			errs.add(path+"."+re.Field, re.Problem)
		case errors.As(e, &ae):
			errs.add(path+"."+ae.Field, ae.Problem)
		default:
			errs.add(path, e.Error())
		}
	}
}
