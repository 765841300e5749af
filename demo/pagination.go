package demo

import (
	"encoding/base64"
	"strconv"
	"strings"
)

const (
	defaultPageSize = 25
	maxPageSize     = 100
)

// pageQuery identifies what a page token may continue: a token is only
// valid for the same list and filter, as AIP-158 asks.
type pageQuery struct {
	collection string // "shelves", or "books" with the parent, e.g. "books:shelves/x"
	filter     string
}

// pageSize checks a requested page size and applies the default and cap.
func pageSize(field string, n int32, v *violations) int {
	switch {
	case n < 0:
		v.add(field, "must not be negative, got %d", n)
		return 0
	case n == 0:
		return defaultPageSize
	default:
		return min(int(n), maxPageSize)
	}
}

// Tokens are opaque to clients: base64 of "v1", the query and the last name
// returned, NUL separated. They stay valid across writes (the next page
// starts after that name).
func encodePageToken(q pageQuery, last string) string {
	raw := strings.Join([]string{"v1", q.collection, q.filter, last}, "\x00")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodePageToken returns the name after which the page starts ("" for the
// first page).
func decodePageToken(field, token string, q pageQuery, v *violations) string {
	if token == "" {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != 4 || parts[0] != "v1" || parts[3] == "" {
		v.add(field, "invalid page token")
		return ""
	}
	if parts[1] != q.collection || parts[2] != q.filter {
		v.add(field, "page token was issued for another request (%s)", strconv.Quote(parts[1]))
		return ""
	}
	return parts[3]
}

// page returns the names of one page from sorted names, and the token of the
// next page.
func page(sorted []string, after string, size int, q pageQuery) (names []string, next string) {
	start := 0
	if after != "" {
		// First name strictly greater than after.
		lo, hi := 0, len(sorted)
		for lo < hi {
			mid := (lo + hi) / 2
			if sorted[mid] <= after {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		start = lo
	}
	end := min(start+size, len(sorted))
	names = sorted[start:end]
	if end < len(sorted) && len(names) > 0 {
		next = encodePageToken(q, names[len(names)-1])
	}
	return names, next
}
