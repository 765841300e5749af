package protocol

// HopByHop reports whether key (a lower-case header or metadata name)
// belongs to one connection or leg rather than to the call, so that no
// adapter or proxy carries it from one side of the gateway to the other:
// the connection-level headers of RFC 9110 section 7.6.1, and the ones
// HTTP or grpc-go regenerate on every leg (host, content type and length,
// user agent). Pseudo-headers (":path") are the caller's to skip.
func HopByHop(key string) bool {
	switch key {
	case "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
		"transfer-encoding", "upgrade", "te", "trailer",
		"host", "content-type", "content-length", "user-agent":
		return true
	}
	return false
}
