package jsoncodec_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// FuzzDecode checks the contract on arbitrary input: no panic, and
// either a fallback (required when protojson fails) or wire bytes equal to
// protojson's decoding. The seeds run in every plain `go test`.
func FuzzDecode(f *testing.F) {
	types := newTestTypes(f)
	targets := []protoreflect.MessageType{
		(&libraryv1.Book{}).ProtoReflect().Type(),
		(&libraryv1.UpdateBookRequest{}).ProtoReflect().Type(),
		types.all,
		types.legacy,
	}
	for _, seed := range []string{
		createBookBody,
		`{"book": ` + createBookBody + `, "updateMask": "title,readingTime"}`,
		`{}`, ` {} `, `null`, `[]`, ``, `{`, `}`, `{"title":}`, `{"title": "x",}`, `{"title": "x"} {}`,
		`{"title": "\ud83d\ude00\u00e9\n"}`, "{\"title\": \"\xff\"}", `{"title": "\ud800"}`,
		`{"pageCount": 1e2}`, `{"pageCount": "1.5e1"}`, `{"pageCount": -0}`, `{"pageCount": 1e}`,
		`{"pageCount": 2147483648}`, `{"copiesSold": "-9223372036854775808"}`, `{"copiesSold": "9223372036854775808"}`,
		`{"genre": 3}`, `{"genre": "GENRE_NOPE"}`, `{"genre": null}`, `{"coverImage": "-_-_AA"}`, `{"coverImage": "AQ\nID"}`,
		`{"rating": 5}`, `{"rating": null}`, `{"readingTime": ".5s"}`, `{"readingTime": "315576000001s"}`,
		`{"publishTime": "2020-01-01T10:00:00.5+02:30"}`, `{"publishTime": "2020-01-01T00:00:00.1234567891Z"}`,
		`{"metadata": {"a": [1, {"b": null}], "a": 2}}`, `{"labels": {"a": "b", "\u0061": "c"}}`,
		`{"chapters": [{"title": "a"}, null]}`, `{"page_count": 1, "pageCount": 2}`, `{"[ext]": 1}`, `{"nope": [1, {"x": "y"}]}`,
		`{"i32": "1", "u64": "18446744073709551615", "float": "NaN", "double": "-Infinity", "bool": true, "bytes": "AA=="}`,
		`{"u32": -0, "f64": 1.8446744073709551615e19, "float": 3.5e38, "double": 1e-400}`,
		`{"rI32": [1, "2", 3e0], "rColor": ["COLOR_RED", 7], "rStr": ["a", null]}`,
		`{"mI32": {"1": "a", "01": "b"}, "mBool": {"true": "x"}, "mU64": {"18446744073709551615": 1}}`,
		`{"mStr": {"a": {"mStr": {"a": {}}}}, "mVal": {"a": null}, "mNull": {"b": null}}`,
		`{"oStr": null, "oI32": 0}`, `{"oVal": null, "oStr": "x"}`, `{"oNull": null}`,
		`{"wktValue": [1, true, null, "s", {"b": {}}], "wktListValue": [[]], "wktEmpty": {}}`,
		`{"wktAny": {"@type": "type.googleapis.com/google.protobuf.Empty"}}`, `{"wktFieldMask": "a.bC,dEf"}`,
		`{"wInt64Value": "5", "wBytesValue": "", "rWInt32Value": [null]}`, `{"e": 3, "re": [1], "unpacked": [1, 2]}`,
		strings.Repeat(`{"child": `, 50) + `{}` + strings.Repeat(`}`, 50),
	} {
		for i := range targets {
			f.Add([]byte(seed), uint8(i), false)
			f.Add([]byte(seed), uint8(i), true)
		}
	}
	strict := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{})
	lenient := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: true})
	f.Fuzz(func(t *testing.T, data []byte, target uint8, discard bool) {
		dec := strict
		if discard {
			dec = lenient
		}
		checkContract(t, dec, discard, targets[int(target)%len(targets)], data)
	})
}
