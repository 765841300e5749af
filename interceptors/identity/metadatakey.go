package identity

import (
	"errors"
	"fmt"
	"strings"
)

// ValidMetadataKey reports whether k can be used as a request metadata key
// that the gateway sets, removes or keys a policy on: lower case letters,
// digits, "-", "_" and ".", not a gRPC-reserved "grpc-" key, not a
// transport header and not binary ("-bin"), whose values would need
// base64 handling no policy does.
func ValidMetadataKey(k string) error {
	if k == "" {
		return errors.New("metadata key must not be empty")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("metadata key %q: only lower case letters, digits, '-', '_' and '.' are allowed", k)
		}
	}
	if strings.HasPrefix(k, "grpc-") {
		return fmt.Errorf("metadata key %q: grpc- keys are reserved by gRPC", k)
	}
	if strings.HasSuffix(k, "-bin") {
		return fmt.Errorf("metadata key %q: binary (-bin) keys are not supported here", k)
	}
	switch k {
	case "content-type", "te", "user-agent", "host", "connection":
		return fmt.Errorf("metadata key %q is a transport header", k)
	}
	return nil
}
