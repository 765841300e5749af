package config

// The string-valued settings with a fixed set of values. Each type lists
// its values in choices, which both Validate and Reference use.

// ClientAuth says whether the main listener asks clients for certificates.
type ClientAuth string

// The values of ClientAuth.
const (
	ClientAuthNone             ClientAuth = "none"
	ClientAuthRequest          ClientAuth = "request"
	ClientAuthRequireAndVerify ClientAuth = "require_and_verify"
)

func (ClientAuth) choices() []string {
	return []string{string(ClientAuthNone), string(ClientAuthRequest), string(ClientAuthRequireAndVerify)}
}

// TLSVersion is the oldest TLS version a listener accepts.
type TLSVersion string

// The values of TLSVersion.
const (
	TLS12 TLSVersion = "1.2"
	TLS13 TLSVersion = "1.3"
)

func (TLSVersion) choices() []string { return []string{string(TLS12), string(TLS13)} }

// LoadBalancing names a gRPC load-balancing policy for an upstream.
type LoadBalancing string

// The values of LoadBalancing; they are gRPC's policy names.
const (
	RoundRobin LoadBalancing = "round_robin"
	PickFirst  LoadBalancing = "pick_first"
)

func (LoadBalancing) choices() []string { return []string{string(RoundRobin), string(PickFirst)} }

// LogLevel is the least severe level that is logged.
type LogLevel string

// The values of LogLevel.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

func (LogLevel) choices() []string {
	return []string{string(LogDebug), string(LogInfo), string(LogWarn), string(LogError)}
}

// LogFormat is the encoding of log lines.
type LogFormat string

// The values of LogFormat.
const (
	LogJSON LogFormat = "json"
	LogText LogFormat = "text"
)

func (LogFormat) choices() []string { return []string{string(LogJSON), string(LogText)} }

// enum is implemented by the types above.
type enum interface{ choices() []string }
