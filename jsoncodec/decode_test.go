package jsoncodec_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// checkContract decodes input with the fast path and with protojson and
// fails unless the fast path either fell back (always allowed, and
// required when protojson fails) or produced wire bytes that unmarshal to
// a message equal to protojson's and as long as proto.Marshal's. It
// reports whether the fast path fell back.
func checkContract(t testing.TB, dec *jsoncodec.Decoder, discard bool, mt protoreflect.MessageType, input []byte) bool {
	t.Helper()
	want := mt.New().Interface()
	perr := protojson.UnmarshalOptions{DiscardUnknown: discard}.Unmarshal(input, want)

	prefix := []byte{0xff, 0xfe}
	got, err := dec.AppendMessage(prefix, input, mt.Descriptor())
	if err != nil {
		if !errors.Is(err, jsoncodec.ErrFallback) {
			t.Fatalf("AppendMessage(%q) = %v, want nil or ErrFallback", input, err)
		}
		if !bytes.Equal(got, prefix) {
			t.Fatalf("AppendMessage(%q) fell back but returned %x, want dst %x", input, got, prefix)
		}
		return true
	}
	if perr != nil {
		t.Fatalf("fast path accepted %q, protojson rejects it: %v", input, perr)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("AppendMessage(%q) = %x, does not start with dst %x", input, got, prefix)
	}
	wire := got[len(prefix):]
	m := mt.New().Interface()
	if err := proto.Unmarshal(wire, m); err != nil {
		t.Fatalf("fast path output %x for %q does not unmarshal: %v", wire, input, err)
	}
	if !proto.Equal(m, want) {
		t.Fatalf("fast path and protojson differ for %q:\nfast:      %v\nprotojson: %v", input, prototext.Format(m), prototext.Format(want))
	}
	if size := proto.Size(want); size != len(wire) {
		t.Fatalf("fast path output for %q is %d bytes, proto.Marshal's %d: %x", input, len(wire), size, wire)
	}
	return false
}

// outcome is what a table case expects of the fast path.
type outcome int

const (
	fast     outcome = iota // decoded by the fast path, equal to protojson
	fallback                // protojson decodes it, the fast path leaves it
	invalid                 // protojson rejects it, so the fast path falls back
)

type contractCase struct {
	name    string
	in      string
	want    outcome
	discard bool
}

// runCases checks the contract for each case and the expected outcome.
func runCases(t *testing.T, mt protoreflect.MessageType, cases []contractCase) {
	t.Helper()
	strict := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{})
	lenient := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dec := strict
			if tc.discard {
				dec = lenient
			}
			fellBack := checkContract(t, dec, tc.discard, mt, []byte(tc.in))
			perr := protojson.UnmarshalOptions{DiscardUnknown: tc.discard}.Unmarshal([]byte(tc.in), mt.New().Interface())
			switch tc.want {
			case fast:
				if fellBack {
					t.Fatalf("fell back on %q (protojson: %v), want the fast path", tc.in, perr)
				}
			case fallback:
				if !fellBack || perr != nil {
					t.Fatalf("fell back = %v, protojson error = %v on %q; want a fallback that protojson decodes", fellBack, perr, tc.in)
				}
			case invalid:
				if perr == nil {
					t.Fatalf("protojson accepts %q; the case expects it to be invalid", tc.in)
				}
			}
		})
	}
}

func TestBook(t *testing.T) {
	t.Parallel()
	runCases(t, (&libraryv1.Book{}).ProtoReflect().Type(), []contractCase{
		{"create book body", createBookBody, fast, false},
		{"proto names", `{"page_count": 3, "copies_sold": "7", "cover_image": "AQID", "reading_time": "1.5s"}`, fast, false},
		{"mixed names", `{"pageCount": 3, "copies_sold": 4}`, fast, false},
		{"duplicate by both names", `{"pageCount": 3, "page_count": 4}`, invalid, false},
		{"duplicate by json name", `{"title": "a", "title": "b"}`, invalid, false},
		{"escaped name", `{"page\u0043ount": 3}`, fast, false},
		{"empty object", `{}`, fast, false},
		{"whitespace", " \t\r\n{ \"title\" : \"x\" , \"author\":\"y\" } \n", fast, false},
		{"top-level null", `null`, invalid, false},
		{"top-level array", `[]`, invalid, false},
		{"empty input", ``, invalid, false},
		{"trailing garbage", `{} x`, invalid, false},
		{"two objects", `{}{}`, invalid, false},
		{"trailing comma", `{"title": "x",}`, invalid, false},
		{"missing colon", `{"title" "x"}`, invalid, false},
		{"unterminated", `{"title": "x"`, invalid, false},
		{"unknown field", `{"nope": 1}`, invalid, false},
		{"unknown field discarded", `{"nope": {"a": [1, "x", null, true, {"b": []}]}, "title": "t"}`, fast, true},
		{"unknown field with invalid value", `{"nope": [1,]}`, invalid, true},
		{"unknown field with bad string", "{\"nope\": \"\xff\"}", invalid, true},
		{"extension name", `{"[foo.bar]": 1}`, fallback, true},
		{"null fields", `{"title": null, "rating": null, "labels": null, "chapters": null, "publishTime": null, "metadata": null, "genre": null}`, fast, false},
		{"null then value", `{"title": null, "title": "x"}`, invalid, false},
		{"empty string omitted", `{"title": "", "pageCount": 0, "copiesSold": "0", "genre": "GENRE_UNSPECIFIED", "coverImage": ""}`, fast, false},
		{"string escapes", `{"title": "a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d\ud83d\ude00"}`, fast, false},
		{"utf8 string", `{"title": "héllo 中文 😀"}`, fast, false},
		{"invalid utf8", "{\"title\": \"\xc3\x28\"}", invalid, false},
		{"utf8 surrogate encoded", "{\"title\": \"\xed\xa0\x80\"}", invalid, false},
		{"lone high surrogate", `{"title": "\ud83d"}`, invalid, false},
		{"lone low surrogate", `{"title": "\ude00"}`, invalid, false},
		{"bad surrogate pair", `{"title": "\ud83d\u0041"}`, invalid, false},
		{"bad escape", `{"title": "\x"}`, invalid, false},
		{"short unicode escape", `{"title": "\u12"}`, invalid, false},
		{"control char", "{\"title\": \"a\nb\"}", invalid, false},
		{"long string", `{"title": "` + strings.Repeat("abcdefgh", 300) + `"}`, fast, false},
		{"long escaped string", `{"title": "` + strings.Repeat("ab\\ncd", 300) + `"}`, fast, false},
		{"number for string", `{"title": 1}`, invalid, false},
		{"int32 number", `{"pageCount": 412}`, fast, false},
		{"int32 string", `{"pageCount": "412"}`, fast, false},
		{"int32 exponent", `{"pageCount": 1e2}`, fast, false},
		{"int32 exponent string", `{"pageCount": "1.5e1"}`, fast, false},
		{"int32 negative exponent", `{"pageCount": 100e-2}`, fast, false},
		{"int32 fraction", `{"pageCount": 1.5}`, invalid, false},
		{"int32 zero fraction", `{"pageCount": 1.0}`, fast, false},
		{"int32 max", `{"pageCount": 2147483647}`, fast, false},
		{"int32 min", `{"pageCount": -2147483648}`, fast, false},
		{"int32 overflow", `{"pageCount": 2147483648}`, invalid, false},
		{"int32 underflow", `{"pageCount": -2147483649}`, invalid, false},
		{"int32 minus zero", `{"pageCount": -0}`, fast, false},
		{"int32 huge exponent", `{"pageCount": 1e99999999999}`, invalid, false},
		{"int32 zero huge exponent", `{"pageCount": 0e99999999999}`, fast, false},
		{"int32 leading zero", `{"pageCount": 01}`, invalid, false},
		{"int32 plus", `{"pageCount": +1}`, invalid, false},
		{"int32 spaces in string", `{"pageCount": " 1"}`, invalid, false},
		{"int32 empty string", `{"pageCount": ""}`, invalid, false},
		{"int32 escaped string", `{"pageCount": "\u0031\u0032"}`, fast, false},
		{"int32 bool", `{"pageCount": true}`, invalid, false},
		{"int32 exponent without digits", `{"pageCount": 1e}`, fallback, false},
		{"int64 max string", `{"copiesSold": "9223372036854775807"}`, fast, false},
		{"int64 min string", `{"copiesSold": "-9223372036854775808"}`, fast, false},
		{"int64 overflow", `{"copiesSold": "9223372036854775808"}`, invalid, false},
		{"int64 number", `{"copiesSold": 20000000}`, fast, false},
		{"int64 20 digits", `{"copiesSold": "10000000000000000000"}`, invalid, false},
		{"int64 exponent", `{"copiesSold": "9.223372036854775807e18"}`, fast, false},
		{"int64 many digits", `{"copiesSold": "100000000000000000000000e-10"}`, fast, false},
		{"enum name", `{"genre": "GENRE_SCIENCE_FICTION"}`, fast, false},
		{"enum number", `{"genre": 3}`, fast, false},
		{"enum unknown number", `{"genre": 42}`, fast, false},
		{"enum negative number", `{"genre": -1}`, fast, false},
		{"enum exponent number", `{"genre": 3e0}`, fast, false},
		{"enum number string", `{"genre": "3"}`, invalid, false},
		{"enum unknown name", `{"genre": "GENRE_NOPE"}`, invalid, false},
		{"enum unknown name discarded", `{"genre": "GENRE_NOPE", "title": "x"}`, fast, true},
		{"enum null", `{"genre": null}`, fast, false},
		{"bytes std", `{"coverImage": "+/+/AA=="}`, fast, false},
		{"bytes url", `{"coverImage": "-_-_AA=="}`, fast, false},
		{"bytes unpadded", `{"coverImage": "AQIDBA"}`, fast, false},
		{"bytes url unpadded", `{"coverImage": "-_-_AA"}`, fast, false},
		{"bytes bad", `{"coverImage": "!!!!"}`, invalid, false},
		{"bytes bad length", `{"coverImage": "A"}`, invalid, false},
		{"bytes newline", `{"coverImage": "AQ\nID"}`, fast, false},
		{"bytes newline padded", `{"coverImage": "AQID\nBA=="}`, invalid, false},
		{"bytes mixed alphabets", `{"coverImage": "+_AA"}`, invalid, false},
		{"bytes big", `{"coverImage": "` + strings.Repeat("AQID", 5000) + `"}`, fast, false},
		{"wrapper", `{"rating": 5}`, fast, false},
		{"wrapper zero", `{"rating": 0}`, fast, false},
		{"wrapper string", `{"rating": "5"}`, fast, false},
		{"wrapper object", `{"rating": {"value": 5}}`, invalid, false},
		{"duration", `{"readingTime": "3600s"}`, fast, false},
		{"duration fraction", `{"readingTime": "-1.000000001s"}`, fast, false},
		{"duration short forms", `{"readingTime": ".5s"}`, fast, false},
		{"duration dot only", `{"readingTime": "1.s"}`, fast, false},
		{"duration plus", `{"readingTime": "+1s"}`, fast, false},
		{"duration too precise", `{"readingTime": "1.0000000001s"}`, invalid, false},
		{"duration max", `{"readingTime": "315576000000.999999999s"}`, fast, false},
		{"duration out of range", `{"readingTime": "315576000001s"}`, invalid, false},
		{"duration no unit", `{"readingTime": "1"}`, invalid, false},
		{"duration leading zero", `{"readingTime": "01s"}`, invalid, false},
		{"duration number", `{"readingTime": 1}`, invalid, false},
		{"timestamp", `{"publishTime": "2020-01-01T00:00:00Z"}`, fast, false},
		{"timestamp nanos", `{"publishTime": "2020-01-01T00:00:00.123456789Z"}`, fast, false},
		{"timestamp offset", `{"publishTime": "2020-01-01T10:00:00.5+02:30"}`, fast, false},
		{"timestamp too precise", `{"publishTime": "2020-01-01T00:00:00.1234567891Z"}`, invalid, false},
		{"timestamp min", `{"publishTime": "0001-01-01T00:00:00Z"}`, fast, false},
		{"timestamp max", `{"publishTime": "9999-12-31T23:59:59.999999999Z"}`, fast, false},
		{"timestamp before min", `{"publishTime": "0001-01-01T00:00:00+01:00"}`, invalid, false},
		{"timestamp no zone", `{"publishTime": "2020-01-01T00:00:00"}`, invalid, false},
		{"timestamp lower t", `{"publishTime": "2020-01-01t00:00:00z"}`, invalid, false},
		{"struct", `{"metadata": {"a": 1, "b": "x", "c": null, "d": true, "e": [1, "y", {"f": []}], "g": {}}}`, fast, false},
		{"struct duplicate key", `{"metadata": {"a": 1, "a": 2}}`, invalid, false},
		{"struct number overflow", `{"metadata": {"a": 1e999}}`, invalid, false},
		{"struct many keys", `{"metadata": {` + manyKeys(40, `"k%d": %d`) + `}}`, fast, false},
		{"struct many keys duplicate", `{"metadata": {` + manyKeys(40, `"k%d": %d`) + `, "k3": 1}}`, invalid, false},
		{"map", `{"labels": {"a": "b", "": "", "c\u0041": "d"}}`, fast, false},
		{"map duplicate", `{"labels": {"a": "b", "a": "c"}}`, invalid, false},
		{"map duplicate escaped", `{"labels": {"a": "b", "\u0061": "c"}}`, invalid, false},
		{"map null value", `{"labels": {"a": null}}`, invalid, false},
		{"map number value", `{"labels": {"a": 1}}`, invalid, false},
		{"chapters", `{"chapters": [{"title": "a", "startPage": 1}, {}, {"start_page": "2"}]}`, fast, false},
		{"chapters null element", `{"chapters": [null]}`, invalid, false},
		{"chapters empty", `{"chapters": []}`, fast, false},
		{"chapters not array", `{"chapters": {}}`, invalid, false},
		{"chapter unknown field", `{"chapters": [{"x": 1}]}`, invalid, false},
		{"array trailing comma", `{"chapters": [{},]}`, invalid, false},
	})
}

// createBookBody is a typical CreateBook body: the Book.
const createBookBody = `{
  "title": "The Left Hand of Darkness",
  "author": "Ursula K. Le Guin",
  "genre": "GENRE_SCIENCE_FICTION",
  "rating": 5,
  "pageCount": 412,
  "copiesSold": "20000000",
  "readingTime": "3600s",
  "labels": {"language": "en", "format": "paperback"},
  "metadata": {"edition": 2, "signed": false, "tags": ["classic", "hugo"]},
  "chapters": [{"title": "A Parade in Erhenrang", "startPage": 1}, {"title": "The Place Inside the Blizzard", "startPage": 21}],
  "publishTime": "1969-03-01T00:00:00Z"
}`

func manyKeys(n int, format string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = strings.NewReplacer("%d", strconv.Itoa(i)).Replace(format)
	}
	return strings.Join(parts, ", ")
}

func TestRequests(t *testing.T) {
	t.Parallel()
	t.Run("CreateBookRequest", func(t *testing.T) {
		t.Parallel()
		runCases(t, (&libraryv1.CreateBookRequest{}).ProtoReflect().Type(), []contractCase{
			{"nested book", `{"parent": "shelves/a", "book": ` + createBookBody + `, "bookId": "b"}`, fast, false},
			{"empty book", `{"book": {}}`, fast, false},
		})
	})
	t.Run("UpdateBookRequest", func(t *testing.T) {
		t.Parallel()
		runCases(t, (&libraryv1.UpdateBookRequest{}).ProtoReflect().Type(), []contractCase{
			{"field mask", `{"book": {"name": "shelves/a/books/b"}, "updateMask": "title,pageCount,readingTime.seconds"}`, fast, false},
			{"field mask empty", `{"updateMask": ""}`, fast, false},
			{"field mask spaces", `{"updateMask": "  title "}`, fast, false},
			{"field mask inner space", `{"updateMask": "title, author"}`, invalid, false},
			{"field mask underscore", `{"updateMask": "page_count"}`, invalid, false},
			{"field mask empty path", `{"updateMask": "a,,b"}`, invalid, false},
			{"field mask digit start", `{"updateMask": "1a"}`, invalid, false},
			{"field mask number", `{"updateMask": 1}`, invalid, false},
		})
	})
	t.Run("UploadBookRequest", func(t *testing.T) {
		t.Parallel()
		runCases(t, (&libraryv1.UploadBookRequest{}).ProtoReflect().Type(), []contractCase{
			{"http body", `{"name": "n", "content": {"contentType": "text/plain", "data": "aGVsbG8="}}`, fast, false},
			{"any extension", `{"content": {"extensions": [{"@type": "type.googleapis.com/google.protobuf.Empty"}]}}`, fallback, false},
			{"any null", `{"content": {"extensions": null}}`, fast, false},
			{"any empty list", `{"content": {"extensions": []}}`, fast, false},
		})
	})
}

func TestAllKinds(t *testing.T) {
	t.Parallel()
	types := newTestTypes(t)
	runCases(t, types.all, []contractCase{
		{"every scalar as number", `{"i32": -1, "i64": -2, "u32": 3, "u64": 4, "s32": -5, "s64": -6, "f32": 7, "f64": 8, "sf32": -9, "sf64": -10, "float": 1.5, "double": -2.25, "bool": true, "str": "s", "bytes": "AA=="}`, fast, false},
		{"every int as string", `{"i32": "-1", "i64": "-2", "u32": "3", "u64": "4", "s32": "-5", "s64": "-6", "f32": "7", "f64": "8", "sf32": "-9", "sf64": "-10", "float": "1.5", "double": "-2.25"}`, fast, false},
		{"limits", `{"i32": -2147483648, "i64": "-9223372036854775808", "u32": 4294967295, "u64": "18446744073709551615", "s32": 2147483647, "s64": "9223372036854775807", "f32": 4294967295, "f64": "18446744073709551615", "sf32": -2147483648, "sf64": "-9223372036854775808"}`, fast, false},
		{"uint32 overflow", `{"u32": 4294967296}`, invalid, false},
		{"uint64 overflow", `{"u64": "18446744073709551616"}`, invalid, false},
		{"uint64 overflow exponent", `{"u64": 1.8446744073709551616e19}`, invalid, false},
		{"uint64 max exponent", `{"u64": 1.8446744073709551615e19}`, fast, false},
		{"uint negative", `{"u32": -1}`, invalid, false},
		{"uint minus zero", `{"u32": -0, "f64": "-0.0", "u64": -0e5}`, fast, false},
		{"sint32 overflow", `{"s32": 2147483648}`, invalid, false},
		{"fixed32 overflow", `{"f32": 4294967296}`, invalid, false},
		{"sfixed64 exponent", `{"sf64": -1e18}`, fast, false},
		{"zeros omitted", `{"i32": 0, "u64": "0", "float": 0, "double": 0.0, "bool": false, "str": "", "bytes": "", "color": 0}`, fast, false},
		{"minus zero floats kept", `{"float": -0, "double": "-0"}`, fast, false},
		{"float specials", `{"float": "NaN", "double": "-Infinity", "rFloat": ["Infinity", "NaN", "-Infinity", 1]}`, fast, false},
		{"float specials case", `{"float": "nan"}`, invalid, false},
		{"float specials bare", `{"float": NaN}`, invalid, false},
		{"float overflow", `{"float": 3.5e38}`, invalid, false},
		{"float max", `{"float": 3.4028234663852886e38}`, fast, false},
		{"float string overflow", `{"float": "1e39"}`, invalid, false},
		{"float underflow", `{"float": 1e-50, "double": 1e-400}`, fast, false},
		{"double overflow", `{"double": 1e309}`, invalid, false},
		{"double huge exponent", `{"double": 1e99999999999999999999}`, invalid, false},
		{"double string exponent", `{"double": "1E+2"}`, fast, false},
		{"double string spaces", `{"double": "1 "}`, invalid, false},
		{"double string hex", `{"double": "0x10"}`, invalid, false},
		{"double string inf word", `{"double": "Inf"}`, invalid, false},
		{"bool string", `{"bool": "true"}`, invalid, false},
		{"bool number", `{"bool": 1}`, invalid, false},
		{"bool prefix", `{"bool": truex}`, invalid, false},
		{"optional zeros kept", `{"optI32": 0, "optStr": "", "optColor": "COLOR_UNSPECIFIED", "optBool": false, "optDouble": 0, "optBytes": ""}`, fast, false},
		{"optional proto names", `{"opt_i32": 0, "opt_float": 0}`, fast, false},
		{"optional null", `{"optI32": null}`, fast, false},
		{"repeated scalars", `{"rI32": [1, -1, "2", 3e0], "rI64": ["-5", 6], "rU32": [1], "rU64": ["18446744073709551615"], "rS32": [-1, 1], "rS64": [-2], "rF32": [1], "rF64": [2], "rSf32": [-3], "rSf64": [-4], "rFloat": [1.5, 0], "rDouble": [0, -0], "rBool": [true, false], "rStr": ["a", "", "b"], "rBytes": ["", "AQ=="], "rColor": ["COLOR_RED", 0, 2, 7]}`, fast, false},
		{"repeated null element", `{"rI32": [1, null]}`, invalid, false},
		{"repeated string null element", `{"rStr": [null]}`, invalid, false},
		{"repeated not array", `{"rI32": 1}`, invalid, false},
		{"repeated nested array", `{"rI32": [[1]]}`, invalid, false},
		{"repeated enum unknown", `{"rColor": ["COLOR_RED", "COLOR_BLUE"]}`, invalid, false},
		{"repeated enum unknown discarded", `{"rColor": ["COLOR_RED", "COLOR_BLUE", 2]}`, fast, true},
		{"repeated enum all unknown discarded", `{"rColor": ["COLOR_BLUE"]}`, fast, true},
		{"map int32", `{"mI32": {"1": "a", "-2": "b", "0": ""}}`, fast, false},
		{"map int32 plus and zeros", `{"mI32": {"+1": "a", "007": "b"}}`, fast, false},
		{"map int32 duplicate by value", `{"mI32": {"1": "a", "01": "b"}}`, invalid, false},
		{"map int32 overflow", `{"mI32": {"2147483648": "a"}}`, invalid, false},
		{"map int32 not number", `{"mI32": {"a": "a"}}`, invalid, false},
		{"map int32 exponent key", `{"mI32": {"1e2": "a"}}`, invalid, false},
		{"map int64", `{"mI64": {"-9223372036854775808": "1", "9223372036854775807": 2}}`, fast, false},
		{"map uint32", `{"mU32": {"4294967295": true, "0": false}}`, fast, false},
		{"map uint32 negative", `{"mU32": {"-1": true}}`, invalid, false},
		{"map uint64", `{"mU64": {"18446744073709551615": 1.5, "1": "NaN"}}`, fast, false},
		{"map sint32", `{"mS32": {"-1": "AQ==", "1": ""}}`, fast, false},
		{"map sint64", `{"mS64": {"-1": "COLOR_RED", "2": 2}}`, fast, false},
		{"map enum unknown discarded", `{"mS64": {"-1": "COLOR_BLUE"}}`, fallback, true},
		{"map fixed32", `{"mF32": {"1": {"i32": 1}, "2": {}}}`, fast, false},
		{"map fixed64", `{"mF64": {"18446744073709551615": 1.5}}`, fast, false},
		{"map sfixed32", `{"mSf32": {"-1": "5"}}`, fast, false},
		{"map sfixed64", `{"mSf64": {"-1": "2020-01-01T00:00:00Z"}}`, fast, false},
		{"map bool", `{"mBool": {"true": "a", "false": "b"}}`, fast, false},
		{"map bool bad", `{"mBool": {"True": "a"}}`, invalid, false},
		{"map bool duplicate", `{"mBool": {"true": "a", "true": "b"}}`, invalid, false},
		{"map message null", `{"mStr": {"a": null}}`, invalid, false},
		{"map message", `{"mStr": {"a": {"mStr": {"a": {"str": "deep"}}}}}`, fast, false},
		{"map nested duplicates are per map", `{"mStr": {"a": {"mStr": {"a": {}}}, "b": {"mStr": {"a": {}}}}}`, fast, false},
		{"map value null", `{"mVal": {"a": null, "b": 1}}`, fast, false},
		{"map wrapper", `{"mWi64": {"a": "5", "b": 0}}`, fast, false},
		{"map wrapper null", `{"mWi64": {"a": null}}`, invalid, false},
		{"map null value enum", `{"mNull": {"a": null, "b": "NULL_VALUE", "c": 0}}`, fast, false},
		{"map many int keys", `{"mI32": {` + manyKeys(40, `"%d": "x"`) + `}}`, fast, false},
		{"map many int keys duplicate", `{"mI32": {` + manyKeys(40, `"%d": "x"`) + `, "007": "y"}}`, invalid, false},
		{"oneof string", `{"oStr": "x"}`, fast, false},
		{"oneof zero kept", `{"oI32": 0}`, fast, false},
		{"oneof empty string kept", `{"oStr": ""}`, fast, false},
		{"oneof two members", `{"oStr": "x", "oI32": 1}`, invalid, false},
		{"oneof null member first", `{"oStr": null, "oI32": 1}`, fast, false},
		{"oneof null member second", `{"oI32": 1, "oStr": null}`, fast, false},
		{"oneof message", `{"oMsg": {"oMsg": {}}}`, fast, false},
		{"oneof value null", `{"oVal": null}`, fast, false},
		{"oneof value null then member", `{"oVal": null, "oStr": "x"}`, invalid, false},
		{"oneof null enum", `{"oNull": null}`, fast, false},
		{"oneof null enum by name", `{"o_null": "NULL_VALUE"}`, fast, false},
		{"oneof enum unknown discarded", `{"oColor": "COLOR_BLUE", "oStr": "x"}`, invalid, true},
		{"oneof enum unknown discarded alone", `{"oColor": "COLOR_BLUE"}`, fast, true},
		{"nested", `{"child": {"child": {"i32": 1, "children": [{"str": "x"}, {}]}}}`, fast, false},
		{"nested empty", `{"child": {}}`, fast, false},
		{"nested null", `{"child": null}`, fast, false},
		{"nested not object", `{"child": []}`, invalid, false},
		{"nested large", `{"child": {"str": "` + strings.Repeat("x", 20000) + `", "child": {"str": "` + strings.Repeat("y", 200) + `"}}}`, fast, false},
		{"json name option", `{"customName": "x"}`, fast, false},
		{"json name option proto name", `{"json_named": "x"}`, fast, false},
		{"json name option default camel", `{"jsonNamed": "x"}`, invalid, false},
		{"value kinds", `{"wktValue": {"a": [1, true, null, "s", {"b": {}}]}}`, fast, false},
		{"value null", `{"wktValue": null}`, fast, false},
		{"value number", `{"wktValue": -1.5e3}`, fast, false},
		{"value number string stays string", `{"wktValue": "NaN"}`, fast, false},
		{"value bad literal", `{"wktValue": nul}`, invalid, false},
		{"list value", `{"wktListValue": [1, [2, [3]], {}]}`, fast, false},
		{"list value null", `{"wktListValue": null}`, fast, false},
		{"list value not array", `{"wktListValue": {}}`, invalid, false},
		{"repeated value nulls", `{"rWktValue": [null, 1, null]}`, fast, false},
		{"struct not object", `{"wktStruct": []}`, invalid, false},
		{"repeated struct null", `{"rWktStruct": [null]}`, invalid, false},
		{"empty", `{"wktEmpty": {}}`, fast, false},
		{"empty with field", `{"wktEmpty": {"a": 1}}`, invalid, false},
		{"empty with field discarded", `{"wktEmpty": {"a": 1}}`, fast, true},
		{"empty not object", `{"wktEmpty": 1}`, invalid, false},
		{"repeated empty", `{"rWktEmpty": [{}, {}]}`, fast, false},
		{"any", `{"wktAny": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s"}}`, fallback, false},
		{"any empty", `{"wktAny": {}}`, fallback, false},
		{"any null", `{"wktAny": null}`, fast, false},
		{"timestamps", `{"wktTimestamp": "2020-01-01T00:00:00Z", "rWktTimestamp": ["1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z"]}`, fast, false},
		{"repeated timestamp null", `{"rWktTimestamp": [null]}`, invalid, false},
		{"durations", `{"wktDuration": "-0.5s", "rWktDuration": ["0s", "1s", "-315576000000s"]}`, fast, false},
		{"field mask", `{"wktFieldMask": "a.bC,dEf", "rWktFieldMask": ["", "x"]}`, fast, false},
		{"wrappers", `{"wBoolValue": true, "wInt32Value": -1, "wInt64Value": "-2", "wUInt32Value": 3, "wUInt64Value": "4", "wFloatValue": "NaN", "wDoubleValue": 1.5, "wStringValue": "s", "wBytesValue": "AQ=="}`, fast, false},
		{"wrappers zero", `{"wBoolValue": false, "wInt32Value": 0, "wInt64Value": "0", "wUInt32Value": 0, "wUInt64Value": "0", "wFloatValue": 0, "wDoubleValue": 0, "wStringValue": "", "wBytesValue": ""}`, fast, false},
		{"repeated wrappers", `{"rWInt32Value": [1, 0, "2"], "rWStringValue": ["", "a"]}`, fast, false},
		{"repeated wrapper null", `{"rWInt32Value": [null]}`, invalid, false},
		{"null value", `{"nullV": null, "rNull": [null, "NULL_VALUE", 0]}`, fast, false},
		{"null value bad", `{"nullV": 1}`, fast, false},
		{"null value unknown name", `{"nullV": "NULL"}`, invalid, false},
		{"unknown discarded everywhere", `{"x": 1, "child": {"y": [], "i32": 1}, "mStr": {"a": {"z": null}}}`, fast, true},
		{"deep nesting", strings.Repeat(`{"child": `, 95) + `{}` + strings.Repeat(`}`, 95), fast, false},
		{"too deep for the fast path", strings.Repeat(`{"child": `, 150) + `{}` + strings.Repeat(`}`, 150), fallback, false},
		{"too deep for protojson", strings.Repeat(`{"child": `, 10001) + `{}` + strings.Repeat(`}`, 10001), invalid, false},
		{"deep struct", `{"wktValue": ` + strings.Repeat(`{"a": `, 45) + `1` + strings.Repeat(`}`, 45) + `}`, fast, false},
		{"too deep struct", `{"wktValue": ` + strings.Repeat(`{"a": `, 150) + `1` + strings.Repeat(`}`, 150) + `}`, fallback, false},
		{"deep unknown discarded", `{"x": ` + strings.Repeat(`[`, 95) + strings.Repeat(`]`, 95) + `}`, fast, true},
		{"too deep unknown discarded", `{"x": ` + strings.Repeat(`[`, 150) + strings.Repeat(`]`, 150) + `}`, fallback, true},
		{"repeated value null", `{"rWktValue": null}`, invalid, false},
		{"repeated null value null", `{"rNull": null}`, invalid, false},
		{"map value field null", `{"mVal": null, "mNull": null}`, fast, false},
	})
}

func TestLegacy(t *testing.T) {
	t.Parallel()
	types := newTestTypes(t)
	runCases(t, types.legacy, []contractCase{
		{"closed enum", `{"e": "CLOSED_TWO", "re": [1, "CLOSED_ONE"]}`, fast, false},
		{"closed enum undeclared number", `{"e": 3}`, fallback, false},
		{"closed enum zero", `{"e": 0}`, fallback, false},
		{"unpacked", `{"unpacked": [1, 2, 3]}`, fast, false},
		{"explicit zero", `{"opt": 0, "name": ""}`, fast, false},
	})
	runCases(t, types.required, []contractCase{
		{"required set", `{"req": 1}`, fallback, false},
		{"required missing", `{}`, invalid, false},
	})
	runCases(t, types.grouped, []contractCase{
		{"group", `{"G": {"x": 1}}`, fallback, false},
		{"group unknown discarded", `{"y": 1}`, fallback, true},
	})
}

func TestAppendMessageAppends(t *testing.T) {
	t.Parallel()
	dec := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{})
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	dst := make([]byte, 0, 64)
	dst, err := dec.AppendMessage(dst, []byte(`{"title": "a"}`), md)
	if err != nil {
		t.Fatal(err)
	}
	// Appending a second encoding merges, as proto defines for
	// concatenated messages: the REST adapter appends path bindings so.
	dst, err = dec.AppendMessage(dst, []byte(`{"author": "b"}`), md)
	if err != nil {
		t.Fatal(err)
	}
	var got libraryv1.Book
	if err := proto.Unmarshal(dst, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetTitle() != "a" || got.GetAuthor() != "b" {
		t.Fatalf("merged = %v, want title a and author b", &got)
	}
}

// TestLookAlikeWellKnownType: a descriptor set may define a type with a
// well-known name but another shape; the fast path leaves it to protojson
// instead of indexing fields that are not there.
func TestLookAlikeWellKnownType(t *testing.T) {
	t.Parallel()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("fake/wrappers.proto"), Package: proto.String("google.protobuf"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("BoolValue")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`true`, `{}`, `null`} {
		_, err := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{}).AppendMessage(nil, []byte(in), fd.Messages().Get(0))
		if !errors.Is(err, jsoncodec.ErrFallback) {
			t.Errorf("AppendMessage(%s) = %v, want ErrFallback", in, err)
		}
	}
}
