// Package googleapis embeds the googleapis .proto files sluice ships
// (google/api/annotations.proto, http.proto, httpbody.proto,
// field_behavior.proto and google/rpc/*), as scripts/googleapis/fetch.sh
// copies them from the pinned npm package, so that contracts compiled
// from .proto sources can import them without the user vendoring them.
package googleapis

import (
	"embed"
	"io/fs"
)

//go:embed google
var files embed.FS

// FS returns the embedded files, named by their import paths
// ("google/api/annotations.proto"). It is read-only and safe for
// concurrent use.
func FS() fs.FS { return files }
