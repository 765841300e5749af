package httprule_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/transcoding/httprule"
)

func lit(s string) httprule.Segment { return httprule.Segment{Kind: httprule.Literal, Literal: s} }

var (
	star = httprule.Segment{Kind: httprule.Wildcard}
	deep = httprule.Segment{Kind: httprule.DeepWildcard}
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl  string
		str   string
		shape string
		verb  string
		segs  []httprule.Segment
		vars  []httprule.Variable
	}{
		{
			tmpl: "/", str: "/", shape: "/",
		},
		{
			tmpl: "/v1/shelves", str: "/v1/shelves", shape: "/v1/shelves",
			segs: []httprule.Segment{lit("v1"), lit("shelves")},
		},
		{
			tmpl: "/v1/*/books/**", str: "/v1/*/books/**", shape: "/v1/*/books/**",
			segs: []httprule.Segment{lit("v1"), star, lit("books"), deep},
		},
		{
			tmpl: "/v1/{shelf}", str: "/v1/{shelf}", shape: "/v1/*",
			segs: []httprule.Segment{lit("v1"), star},
			vars: []httprule.Variable{{FieldPath: []string{"shelf"}, Start: 1, End: 2}},
		},
		{
			tmpl: "/v1/{shelf=*}", str: "/v1/{shelf}", shape: "/v1/*",
			segs: []httprule.Segment{lit("v1"), star},
			vars: []httprule.Variable{{FieldPath: []string{"shelf"}, Start: 1, End: 2}},
		},
		{
			tmpl: "/v1/{book.name=shelves/*/books/*}", str: "/v1/{book.name=shelves/*/books/*}",
			shape: "/v1/shelves/*/books/*",
			segs:  []httprule.Segment{lit("v1"), lit("shelves"), star, lit("books"), star},
			vars:  []httprule.Variable{{FieldPath: []string{"book", "name"}, Start: 1, End: 5}},
		},
		{
			tmpl: "/v1/{name=a/*/b/**}", str: "/v1/{name=a/*/b/**}", shape: "/v1/a/*/b/**",
			segs: []httprule.Segment{lit("v1"), lit("a"), star, lit("b"), deep},
			vars: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 5}},
		},
		{
			tmpl: "/v1/{name=**}", str: "/v1/{name=**}", shape: "/v1/**",
			segs: []httprule.Segment{lit("v1"), deep},
			vars: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 2}},
		},
		{
			tmpl: "/v1/{name=operations/**}:cancel", str: "/v1/{name=operations/**}:cancel",
			shape: "/v1/operations/**:cancel", verb: "cancel",
			segs: []httprule.Segment{lit("v1"), lit("operations"), deep},
			vars: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 3}},
		},
		{
			tmpl: "/v1/{a}/{b_2.C}:x", str: "/v1/{a}/{b_2.C}:x", shape: "/v1/*/*:x", verb: "x",
			segs: []httprule.Segment{lit("v1"), star, star},
			vars: []httprule.Variable{
				{FieldPath: []string{"a"}, Start: 1, End: 2},
				{FieldPath: []string{"b_2", "C"}, Start: 2, End: 3},
			},
		},
		{
			// Sibling sub-fields may both be bound.
			tmpl: "/v1/{a.b}/{a.c}", str: "/v1/{a.b}/{a.c}", shape: "/v1/*/*",
			segs: []httprule.Segment{lit("v1"), star, star},
			vars: []httprule.Variable{
				{FieldPath: []string{"a", "b"}, Start: 1, End: 2},
				{FieldPath: []string{"a", "c"}, Start: 2, End: 3},
			},
		},
		{
			// Only the last ':' of the last segment starts the verb.
			tmpl: "/v1/a:b/c:d:e", str: "/v1/a:b/c:d:e", shape: "/v1/a:b/c:d:e", verb: "e",
			segs: []httprule.Segment{lit("v1"), lit("a:b"), lit("c:d")},
		},
		{
			// A ':' inside a variable is not a verb separator.
			tmpl: "/v1/{name=x:y}", str: "/v1/{name=x:y}", shape: "/v1/x:y",
			segs: []httprule.Segment{lit("v1"), lit("x:y")},
			vars: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 2}},
		},
		{
			tmpl: "/v1/{name=x:y}:z", str: "/v1/{name=x:y}:z", shape: "/v1/x:y:z", verb: "z",
			segs: []httprule.Segment{lit("v1"), lit("x:y")},
			vars: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 2}},
		},
		{
			tmpl: "/v1/**:undelete", str: "/v1/**:undelete", shape: "/v1/**:undelete", verb: "undelete",
			segs: []httprule.Segment{lit("v1"), deep},
		},
		{
			// "**" followed by more segments and a variable (Firestore).
			tmpl:  "/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
			str:   "/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
			shape: "/v1/projects/*/databases/*/documents/**/*",
			segs:  []httprule.Segment{lit("v1"), lit("projects"), star, lit("databases"), star, lit("documents"), deep, star},
			vars: []httprule.Variable{
				{FieldPath: []string{"parent"}, Start: 1, End: 7},
				{FieldPath: []string{"collection_id"}, Start: 7, End: 8},
			},
		},
		{
			// "**" followed by a literal (KMS inventory).
			tmpl:  "/v1/{name=projects/*/locations/*/keyRings/*/cryptoKeys/**}/protectedResourcesSummary",
			str:   "/v1/{name=projects/*/locations/*/keyRings/*/cryptoKeys/**}/protectedResourcesSummary",
			shape: "/v1/projects/*/locations/*/keyRings/*/cryptoKeys/**/protectedResourcesSummary",
			segs: []httprule.Segment{lit("v1"), lit("projects"), star, lit("locations"), star, lit("keyRings"), star,
				lit("cryptoKeys"), deep, lit("protectedResourcesSummary")},
			vars: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 9}},
		},
		{
			// "**" first inside a variable.
			tmpl: "/v1test2/{name=**/botSessions/*}", str: "/v1test2/{name=**/botSessions/*}",
			shape: "/v1test2/**/botSessions/*",
			segs:  []httprule.Segment{lit("v1test2"), deep, lit("botSessions"), star},
			vars:  []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 4}},
		},
		{
			// After a variable, the verb is all the text after the first ':'.
			tmpl: "/v1/example/a_bit_of_everything/{uuid}:custom:custom", str: "/v1/example/a_bit_of_everything/{uuid}:custom:custom",
			shape: "/v1/example/a_bit_of_everything/*:custom:custom", verb: "custom:custom",
			segs: []httprule.Segment{lit("v1"), lit("example"), lit("a_bit_of_everything"), star},
			vars: []httprule.Variable{{FieldPath: []string{"uuid"}, Start: 3, End: 4}},
		},
		{
			tmpl: "/v1/**:a:b", str: "/v1/**:a:b", shape: "/v1/**:a:b", verb: "a:b",
			segs: []httprule.Segment{lit("v1"), deep},
		},
		{
			// Escaped unreserved characters are decoded, other hex upper-cased.
			tmpl: "/%76%31/a%2fb/%7E@!$&'()+,;=:%41%3a", str: "/v1/a%2Fb/~@!$&'()+,;=:A%3A",
			shape: "/v1/a%2Fb/~@!$&'()+,;=:A%3A", verb: "A%3A",
			segs: []httprule.Segment{lit("v1"), lit("a%2Fb"), lit("~@!$&'()+,;=")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			t.Parallel()
			got, err := httprule.Parse(tt.tmpl)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
			if got.Shape() != tt.shape {
				t.Errorf("Shape() = %q, want %q", got.Shape(), tt.shape)
			}
			if got.Verb() != tt.verb {
				t.Errorf("Verb() = %q, want %q", got.Verb(), tt.verb)
			}
			if segs := got.Segments(); !reflect.DeepEqual(segs, tt.segs) && len(segs)+len(tt.segs) > 0 {
				t.Errorf("Segments() = %v, want %v", segs, tt.segs)
			}
			if vars := got.Variables(); !reflect.DeepEqual(vars, tt.vars) && len(vars)+len(tt.vars) > 0 {
				t.Errorf("Variables() = %v, want %v", vars, tt.vars)
			}
			again, err := httprule.Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(String()): %v", err)
			}
			if again.String() != got.String() || again.Shape() != got.Shape() {
				t.Errorf("re-parse = %q/%q, want %q/%q", again, again.Shape(), got, got.Shape())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl   string
		column int
		reason string
	}{
		{"", 1, "must start with '/'"},
		{"v1/shelves", 1, "must start with '/'"},
		{"//", 2, "empty segment"},
		{"/v1//shelves", 5, "empty segment"},
		{"/v1/shelves/", 13, "empty segment"},
		{"/v1/:verb", 5, "empty segment"},
		{"/v1/shelves:", 12, "empty verb"},
		{"/v1/**/books/**", 14, "a second '**'"},
		{"/v1/{name=**}/{other=a/**}", 24, "a second '**'"},
		{"/v1/{uuid}:", 11, "empty verb"},
		{"/v1/{uuid}:a*b", 13, `'*' in verb "a*b"`},
		{"/v1/{a", 5, `variable "{a" is not closed`},
		{"/v1/{", 5, `variable "{" is not closed`},
		{"/v1/{a=b/c", 5, `variable "{a=b/c" is not closed`},
		{"/v1/{a={b}}", 8, "nested variable"},
		{"/v1/{a=x/{b}}", 10, "nested variable"},
		{"/v1/{}", 6, "empty field name"},
		{"/v1/{a.}", 8, "empty field name"},
		{"/v1/{a..b}", 8, "empty field name"},
		{"/v1/{.a}", 6, "empty field name"},
		{"/v1/{1a}", 6, `field name "1a" must not start with a digit`},
		{"/v1/{a-b}", 7, `invalid character '-' in field path`},
		{"/v1/{a=}", 8, "empty segment"},
		{"/v1/{a=b//c}", 10, "empty segment"},
		{"/v1/{a=b/}", 10, "empty segment"},
		{"/v1/{a}b", 8, `unexpected 'b' after variable`},
		{"/v1/x{a}", 6, `unexpected '{' in literal "x{a}"`},
		{"/v1/a}", 6, `unexpected '}' in literal "a}"`},
		{"/v1/a*", 6, `'*' in literal "a*"`},
		{"/v1/***", 5, `'*' in literal "***"`},
		{"/v1/a b", 6, `invalid character ' ' in literal "a b"`},
		{"/v1/a?b", 6, `invalid character '?' in literal`},
		{"/v1/a#", 6, `invalid character '#' in literal`},
		{"/v1/aé", 6, `invalid character 'é' in literal`},
		{"/v1/a\xff", 6, `invalid character byte 0xFF in literal`},
		{"/v1/{a\tb}", 7, `invalid character '\t' in field path`},
		{"/v1/%zz", 5, `invalid percent-encoding in literal "%zz"`},
		{"/v1/a%2", 6, `invalid percent-encoding in literal "a%2"`},
		{"/v1/a:%g0", 7, `invalid percent-encoding in verb "%g0"`},
		{"/v1/a:b*", 8, `'*' in verb "b*"`},
		{"/v1/{a}/{a}", 9, `field "a" is bound twice`},
		{"/v1/{a.b}/{a}", 11, `field "a" is bound twice (overlaps "a.b")`},
		{"/v1/{a}/{a.b}", 9, `field "a.b" is bound twice (overlaps "a")`},
		{"/v1/{a.b}/{x}/{a.b.c}", 15, `field "a.b.c" is bound twice (overlaps "a.b")`},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			t.Parallel()
			got, err := httprule.Parse(tt.tmpl)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.tmpl, got)
			}
			var pe *httprule.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if pe.Template != tt.tmpl || pe.Offset+1 != tt.column || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("error = %v (column %d), want column %d and %q", err, pe.Offset+1, tt.column, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "parse path template "+strconv.Quote(tt.tmpl)+": ") {
				t.Errorf("error %q does not name the template", err)
			}
		})
	}
}

// TestTemplateImmutable checks that accessors hand out copies: a router built
// from a template must not change behind its back.
func TestTemplateImmutable(t *testing.T) {
	t.Parallel()
	tmpl, err := httprule.Parse("/v1/{book.name=shelves/*}")
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Segments()[0].Literal = "changed"
	tmpl.Variables()[0].FieldPath[0] = "changed"
	if got := tmpl.String(); got != "/v1/{book.name=shelves/*}" {
		t.Errorf("String() = %q after mutating copies", got)
	}
	if got := tmpl.Variables()[0].FieldPath[0]; got != "book" {
		t.Errorf("FieldPath[0] = %q after mutating a copy", got)
	}
}

func TestSegmentKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[httprule.SegmentKind]string{
		httprule.Literal: "literal", httprule.Wildcard: "*", httprule.DeepWildcard: "**", 0: "invalid",
	} {
		if got := k.String(); got != want {
			t.Errorf("SegmentKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
