package demo

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
)

// Limits of the demo API, documented in the proto where clients see them.
const (
	maxTitleRunes       = 200
	maxDescriptionRunes = 2000
	maxLabels           = 64
	maxLabelValueRunes  = 256
	maxCoverImageBytes  = 64 << 10
	maxContentBytes     = 1 << 20
	maxChapters         = 1000
)

// validateShelf reports every problem of a shelf given by a client; prefix
// is the path of the shelf in the request, e.g. "shelf.".
func validateShelf(prefix string, s *libraryv1.Shelf, v *violations) {
	checkText(prefix+"display_name", s.GetDisplayName(), true, maxTitleRunes, v)
	checkText(prefix+"description", s.GetDescription(), false, maxDescriptionRunes, v)
	checkLabels(prefix+"labels", s.GetLabels(), v)
}

// validateBook reports every problem of a book given by a client.
func validateBook(prefix string, b *libraryv1.Book, v *violations) {
	checkText(prefix+"title", b.GetTitle(), true, maxTitleRunes, v)
	checkText(prefix+"author", b.GetAuthor(), false, maxTitleRunes, v)
	if _, ok := libraryv1.Genre_name[int32(b.GetGenre())]; !ok {
		v.add(prefix+"genre", "unknown genre %d", b.GetGenre())
	}
	if r := b.GetRating(); r != nil && (r.GetValue() < 1 || r.GetValue() > 5) {
		v.add(prefix+"rating", "must be between 1 and 5, got %d", r.GetValue())
	}
	if b.GetPageCount() < 0 {
		v.add(prefix+"page_count", "must not be negative, got %d", b.GetPageCount())
	}
	if b.GetCopiesSold() < 0 {
		v.add(prefix+"copies_sold", "must not be negative, got %d", b.GetCopiesSold())
	}
	if d := b.GetReadingTime(); d != nil {
		if err := d.CheckValid(); err != nil {
			v.add(prefix+"reading_time", "invalid duration: %v", err)
		} else if d.AsDuration() < 0 {
			v.add(prefix+"reading_time", "must not be negative, got %v", d.AsDuration())
		}
	}
	checkLabels(prefix+"labels", b.GetLabels(), v)
	if n := len(b.GetCoverImage()); n > maxCoverImageBytes {
		v.add(prefix+"cover_image", "must be at most %d bytes, got %d", maxCoverImageBytes, n)
	}
	if n := len(b.GetChapters()); n > maxChapters {
		v.add(prefix+"chapters", "must have at most %d entries, got %d", maxChapters, n)
		return
	}
	for i, c := range b.GetChapters() {
		field := fmt.Sprintf("%schapters[%d]", prefix, i)
		checkText(field+".title", c.GetTitle(), true, maxTitleRunes, v)
		if c.GetStartPage() < 0 {
			v.add(field+".start_page", "must not be negative, got %d", c.GetStartPage())
		}
	}
}

func checkText(field, s string, required bool, maxRunes int, v *violations) {
	switch {
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case required && strings.TrimSpace(s) == "":
		v.add(field, "is required")
	case utf8.RuneCountInString(s) > maxRunes:
		v.add(field, "must be at most %d characters, got %d", maxRunes, utf8.RuneCountInString(s))
	}
}

// checkLabels reports bad labels in key order, so errors are deterministic.
func checkLabels(field string, labels map[string]string, v *violations) {
	if len(labels) > maxLabels {
		v.add(field, "must have at most %d entries, got %d", maxLabels, len(labels))
		return
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !validLabelKey(k) {
			v.add(fmt.Sprintf("%s[%q]", field, k), "key must be lower case letters, digits, '_' and '-', start with a letter and be at most 63 characters")
		}
		if val := labels[k]; !utf8.ValidString(val) || utf8.RuneCountInString(val) > maxLabelValueRunes {
			v.add(fmt.Sprintf("%s[%q]", field, k), "value must be valid UTF-8 of at most %d characters", maxLabelValueRunes)
		}
	}
}

func validLabelKey(k string) bool {
	if k == "" || len(k) > 63 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
