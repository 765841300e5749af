package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/interceptors/identity"
)

// Limits configures what keeps the gateway standing when peers are slow,
// stalled or too many: the send-stall timeout, concurrency limits and
// per-method message limits. Package policy turns it into the options of
// interceptors/flow and interceptors/concurrency.
type Limits struct {
	SendStallTimeout  Duration       `yaml:"send_stall_timeout" doc:"End a call with {DEADLINE_EXCEEDED} when the client accepts no data for this long (its HTTP/2 window stays full), and cancel the upstream call, so that a client that stops reading cannot pin an upstream stream; each message gets the full time, so slow but steady readers are never cut. The same holds the other way: an upstream that accepts none of a client's stream for this long is cancelled and the client gets {UNAVAILABLE}. 0 disables both."`
	MaxInFlight       int            `yaml:"max_in_flight" doc:"Most calls in flight on the whole gateway; a stream counts while it is open. Beyond it calls are refused with {RESOURCE_EXHAUSTED} (with a {google.rpc.RetryInfo}; REST: 429 with {Retry-After}) or wait up to {queue_timeout}. 0 means no limit."`
	MaxInFlightPerKey int            `yaml:"max_in_flight_per_key" doc:"Most calls in flight of one {key} (such as the streams one client may hold open), across all methods; 0 means no limit. Requires {key}."`
	Key               string         `yaml:"key" doc:"What per-key limits count against, spelled as for {rate_limits.limits[].key}: {identity} (each authenticated identity), {api_key} (each API key name), {client_ip} (each client address, see {rate_limits.trusted_proxies}), {metadata:NAME} (each value of request header NAME), or {method} (each method on its own). Calls without a key (anonymous, no such header) are held only to the other limits. Empty when no per-key limit is set."`
	QueueTimeout      Duration       `yaml:"queue_timeout" doc:"How long a call that finds a concurrency limit reached may wait for a slot, in arrival order, before it is refused; 0 refuses at once."`
	Methods           []MethodLimits `yaml:"methods" doc:"Limits for sets of methods. A call is held to the entry with its most specific matching pattern, and to no other entry."`
}

// MethodLimits are the limits of the methods its patterns match.
type MethodLimits struct {
	Methods                 []string `yaml:"methods" doc:"Method patterns, written as for {upstreams[].methods}; at least one. No pattern may appear in two entries."`
	MaxInFlight             int      `yaml:"max_in_flight" doc:"Most calls in flight to all the matched methods together; 0 means no limit."`
	MaxInFlightPerKey       int      `yaml:"max_in_flight_per_key" doc:"Most calls in flight of one {key} to the matched methods; 0 means no limit. Requires {limits.key}."`
	MaxRecvMsgSize          ByteSize `yaml:"max_recv_msg_size" doc:"Largest message accepted from a client, after decompression; at most {server.max_recv_msg_size}, which 0 leaves in force."`
	MaxSendMsgSize          ByteSize `yaml:"max_send_msg_size" doc:"Largest message sent to a client; at most {server.max_send_msg_size}, which 0 leaves in force."`
	MessagesPerSecond       int      `yaml:"messages_per_second" doc:"Messages read from the client per second on one stream. Excess is not buffered: the gateway reads more slowly and HTTP/2 flow control slows the sender. 0 means no limit."`
	MessagesPerSecondPerKey int      `yaml:"messages_per_second_per_key" doc:"Messages read per second from all the streams of one {key} to the matched methods; 0 means no limit. Requires {limits.key}."`
	Burst                   int      `yaml:"burst" doc:"Messages that may be read back to back before the per-second rates set in; 0 means 1."`
}

// defaultLimits are a one-minute send-stall timeout and no concurrency or
// message limits.
func defaultLimits() Limits {
	return Limits{SendStallTimeout: Duration(time.Minute)}
}

// validate reports the problems of l under path ("limits"); server holds
// the server-wide message limits the per-method ones must stay within.
func (l *Limits) validate(errs *Errors, path string, server *Server) {
	checkDuration(errs, path+".send_stall_timeout", l.SendStallTimeout, 0)
	checkDuration(errs, path+".queue_timeout", l.QueueTimeout, 0)
	checkCount(errs, path+".max_in_flight", l.MaxInFlight)
	checkCount(errs, path+".max_in_flight_per_key", l.MaxInFlightPerKey)
	if l.Key != "" {
		if err := validKey(l.Key); err != nil {
			errs.add(path+".key", err.Error())
		}
	}
	needsKey := func(p string) {
		if l.Key == "" {
			errs.add(p, "needs limits.key: say what a key is (identity, api_key, client_ip, method or metadata:NAME)")
		}
	}
	if l.MaxInFlightPerKey > 0 {
		needsKey(path + ".max_in_flight_per_key")
	}
	seen := map[string]string{}
	for i := range l.Methods {
		m := &l.Methods[i]
		mpath := path + ".methods[" + strconv.Itoa(i) + "]"
		if len(m.Methods) == 0 {
			errs.add(mpath+".methods", "must list at least one method pattern (\"*\" matches every method)")
		}
		for k, p := range m.Methods {
			ppath := mpath + ".methods[" + strconv.Itoa(k) + "]"
			if err := ValidPattern(p); err != nil {
				errs.add(ppath, err.Error())
				continue
			}
			if first, dup := seen[p]; dup {
				errs.add(ppath, fmt.Sprintf("pattern %q is also at %s; a method must have one entry", p, first))
				continue
			}
			seen[p] = ppath
		}
		checkCount(errs, mpath+".max_in_flight", m.MaxInFlight)
		checkCount(errs, mpath+".max_in_flight_per_key", m.MaxInFlightPerKey)
		checkCount(errs, mpath+".messages_per_second", m.MessagesPerSecond)
		checkCount(errs, mpath+".messages_per_second_per_key", m.MessagesPerSecondPerKey)
		checkCount(errs, mpath+".burst", m.Burst)
		checkMethodSize(errs, mpath+".max_recv_msg_size", m.MaxRecvMsgSize, server.MaxRecvMsgSize, "server.max_recv_msg_size")
		checkMethodSize(errs, mpath+".max_send_msg_size", m.MaxSendMsgSize, server.MaxSendMsgSize, "server.max_send_msg_size")
		if m.MaxInFlightPerKey > 0 {
			needsKey(mpath + ".max_in_flight_per_key")
		}
		if m.MessagesPerSecondPerKey > 0 {
			needsKey(mpath + ".messages_per_second_per_key")
		}
		if m.MaxInFlight == 0 && m.MaxInFlightPerKey == 0 && m.MaxRecvMsgSize == 0 && m.MaxSendMsgSize == 0 &&
			m.MessagesPerSecond == 0 && m.MessagesPerSecondPerKey == 0 {
			errs.add(mpath, "sets no limit; remove it or set one")
		}
	}
}

func checkCount(errs *Errors, path string, n int) {
	if n < 0 {
		errs.add(path, "must not be negative")
	}
}

// checkMethodSize accepts 0 (the server-wide limit) or a size up to it: a
// larger per-method limit would never be reached.
func checkMethodSize(errs *Errors, path string, b, serverMax ByteSize, serverKey string) {
	switch {
	case b < 0:
		errs.add(path, "must not be negative")
	case serverMax > 0 && b > serverMax:
		errs.add(path, fmt.Sprintf("must be at most %s (%s), which bounds every message anyway; got %s", serverMax, serverKey, b))
	}
}

// validKey checks the spelling of Limits.Key: the spellings of
// rate_limits.limits[].key but global, plus method. A header name must
// pass identity.ValidMetadataKey, as the key function built from it at start-up
// requires.
func validKey(k string) error {
	switch k {
	case RateLimitKeyIdentity, RateLimitKeyAPIKey, RateLimitKeyClientIP, "method":
		return nil
	}
	name, ok := strings.CutPrefix(k, RateLimitKeyMetadata)
	switch {
	case !ok:
		return fmt.Errorf("must be identity, api_key, client_ip, method or metadata:NAME, got %q", k)
	case name == "":
		return fmt.Errorf("%q names no header: write metadata:NAME", k)
	case strings.HasPrefix(strings.ToLower(name), "grpc-"):
		return fmt.Errorf("%q: grpc- headers are reserved by gRPC", k)
	}
	if err := identity.ValidMetadataKey(name); err != nil {
		return fmt.Errorf("%q: %w", k, err)
	}
	return nil
}
