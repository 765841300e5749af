package demo

import (
	"strings"
)

// validID reports whether a client may choose id as a shelf or book id
// (AIP-122): lower case letters, digits and dashes, starting with a letter,
// not ending with a dash, at most 63 characters.
func validID(id string) bool {
	if id == "" || len(id) > 63 || id[0] < 'a' || id[0] > 'z' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func shelfName(shelfID string) string { return "shelves/" + shelfID }

func bookName(shelfID, bookID string) string { return "shelves/" + shelfID + "/books/" + bookID }

// validSegment reports whether s can be one segment of a resource name.
// Lookups accept any such segment, so that a name that could never have been
// created is NOT_FOUND rather than a format error, as in most Google APIs.
func validSegment(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/?#") && len(s) <= 256
}

// parseShelfName parses `shelves/{shelf}`, reporting a bad name under field.
func parseShelfName(field, name string, v *violations) (shelfID string, ok bool) {
	rest, found := strings.CutPrefix(name, "shelves/")
	if !found || !validSegment(rest) {
		v.add(field, "must have the form shelves/{shelf}, got %q", name)
		return "", false
	}
	return rest, true
}

// parseBookName parses `shelves/{shelf}/books/{book}`.
func parseBookName(field, name string, v *violations) (shelfID, bookID string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "shelves" || parts[2] != "books" || !validSegment(parts[1]) || !validSegment(parts[3]) {
		v.add(field, "must have the form shelves/{shelf}/books/{book}, got %q", name)
		return "", "", false
	}
	return parts[1], parts[3], true
}

// parseFileName parses `shelves/{shelf}/files/{path}`, where path is one or
// more non-empty segments other than `.` and `..`.
func parseFileName(field, name string, v *violations) (shelfID, path string, ok bool) {
	parts := strings.SplitN(name, "/", 4)
	if len(parts) != 4 || parts[0] != "shelves" || parts[2] != "files" || !validSegment(parts[1]) || !validFilePath(parts[3]) {
		v.add(field, "must have the form shelves/{shelf}/files/{path}, got %q", name)
		return "", "", false
	}
	return parts[1], parts[3], true
}

func validFilePath(p string) bool {
	if p == "" || len(p) > 1024 {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "?#") {
			return false
		}
	}
	return true
}

// checkID validates a client-chosen id; empty means "let the server choose".
func checkID(field, id string, v *violations) {
	if id != "" && !validID(id) {
		v.add(field, "must be lower case letters, digits and dashes, start with a letter, not end with a dash and be at most 63 characters, got %q", id)
	}
}
