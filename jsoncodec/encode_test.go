package jsoncodec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// allOptions is every combination of the options.
func allOptions() []jsoncodec.MarshalOptions {
	var out []jsoncodec.MarshalOptions
	for i := range 8 {
		out = append(out, jsoncodec.MarshalOptions{EmitUnpopulated: i&1 != 0, UseProtoNames: i&2 != 0, UseEnumNumbers: i&4 != 0})
	}
	return out
}

func marshalOptions(o jsoncodec.MarshalOptions) protojson.MarshalOptions {
	return protojson.MarshalOptions{EmitUnpopulated: o.EmitUnpopulated, UseProtoNames: o.UseProtoNames, UseEnumNumbers: o.UseEnumNumbers}
}

// newMessage returns an empty message of type md: the linked generated
// type when there is one, dynamicpb otherwise (the two paths the gateway
// uses).
func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return mt.New().Interface()
	}
	return dynamicpb.NewMessage(md)
}

// errReferencePanicked marks input on which proto.Unmarshal itself panics
// (dynamicpb's map decoding does when a map entry repeats its key with
// another wire type): there is nothing to compare with.
var errReferencePanicked = errors.New("reference panicked")

// reference is what the gateway did before: proto.Unmarshal + protojson.
func reference(md protoreflect.MessageDescriptor, data []byte, o jsoncodec.MarshalOptions) (_ []byte, err error) {
	defer func() {
		if recover() != nil {
			err = errReferencePanicked
		}
	}()
	m := newMessage(md)
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return marshalOptions(o).Marshal(m)
}

func compact(tb testing.TB, b []byte) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatalf("invalid JSON %q: %v", b, err)
	}
	return buf.String()
}

// encoders caches one Encoder per option set, shared by the tests, so
// plans are reused across goroutines as in the gateway.
var encoders = func() map[jsoncodec.MarshalOptions]*jsoncodec.Encoder {
	m := map[jsoncodec.MarshalOptions]*jsoncodec.Encoder{}
	for _, o := range allOptions() {
		m[o] = jsoncodec.NewEncoder(o)
	}
	return m
}()

// differ compares AppendMessage with the reference. It returns the
// encoder's error when it fell back, for the caller to judge, and fails
// the test on any other disagreement.
func differ(tb testing.TB, md protoreflect.MessageDescriptor, data []byte, o jsoncodec.MarshalOptions) error {
	tb.Helper()
	prefix := []byte("prefix")
	got, err := encoders[o].AppendMessage(prefix, data, md)
	want, werr := reference(md, data, o)
	switch {
	case errors.Is(werr, errReferencePanicked):
	case errors.Is(err, jsoncodec.ErrFallback):
		if !bytes.Equal(got, prefix) {
			tb.Errorf("%s %+v: fallback changed dst to %q", md.FullName(), o, got)
		}
		return err
	case err != nil:
		if werr == nil {
			tb.Errorf("%s %+v data %x: AppendMessage: %v; protojson printed %s", md.FullName(), o, data, err, want)
		}
		if !bytes.Equal(got, prefix) {
			tb.Errorf("%s %+v: error changed dst to %q", md.FullName(), o, got)
		}
	case werr != nil:
		tb.Errorf("%s %+v data %x: AppendMessage printed %s; protojson failed: %v", md.FullName(), o, data, got, werr)
	case !bytes.HasPrefix(got, prefix):
		tb.Errorf("%s: dst prefix lost: %q", md.FullName(), got)
	default:
		if g, w := compact(tb, got[len(prefix):]), compact(tb, want); g != w {
			tb.Errorf("%s %+v data %x:\n got %s\nwant %s", md.FullName(), o, data, g, w)
		}
	}
	return nil
}

// same checks every option set and fails on any fallback.
func same(t *testing.T, md protoreflect.MessageDescriptor, data []byte) {
	t.Helper()
	for _, o := range allOptions() {
		if err := differ(t, md, data, o); err != nil {
			t.Errorf("%s %+v: unexpected fallback: %v", md.FullName(), o, err)
		}
	}
}

func mustMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func demoBook() *libraryv1.Book {
	meta, _ := structpb.NewStruct(map[string]any{
		"edition": 2.0, "signed": true, "notes": nil, "tags": []any{"sea", "whale", 1.5, []any{}},
		"nested": map[string]any{"z": "last", "a": "first", "quote\"d": "line\nbreak"},
	})
	return &libraryv1.Book{
		Name:        "shelves/classics/books/moby-dick",
		Title:       "Moby-Dick; or, The Whale",
		Author:      "Herman Melville",
		Genre:       libraryv1.Genre_GENRE_FICTION,
		Rating:      wrapperspb.Int32(5),
		PageCount:   635,
		CopiesSold:  1 << 40,
		ReadingTime: &durationpb.Duration{Seconds: 86400, Nanos: 500000000},
		Labels:      map[string]string{"lang": "en", "era": "romantic", "": "empty key", "ü": "<&>"},
		Metadata:    meta,
		CoverImage:  []byte{0, 1, 2, 0xfe, 0xff, 'x'},
		Chapters: []*libraryv1.Book_Chapter{
			{Title: "Loomings", StartPage: 1}, {Title: "The Carpet-Bag", StartPage: 9}, {},
		},
		ContentSizeBytes: 1234567,
		PublishTime:      timestamppb.New(time.Date(1851, 10, 18, 0, 0, 0, 0, time.UTC)),
		CreateTime:       &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 123456789},
		UpdateTime:       &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 120000000},
	}
}

func TestDemoMessages(t *testing.T) {
	t.Parallel()
	book := demoBook()
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"empty book", &libraryv1.Book{}},
		{"book", book},
		{"get book response", &libraryv1.GetBookResponse{Book: book}},
		{"list books", &libraryv1.ListBooksResponse{Books: []*libraryv1.Book{book, {}, {Title: "x", Genre: 42}}, NextPageToken: "t"}},
		{"shelf", &libraryv1.Shelf{Name: "shelves/a", DisplayName: "A", Labels: map[string]string{"b": "1", "a": "2"}, BookCount: -5, CreateTime: &timestamppb.Timestamp{}}},
		{"list shelves", &libraryv1.ListShelvesResponse{Shelves: []*libraryv1.Shelf{{Name: "x"}, {}}}},
		{"shelf file", &libraryv1.GetShelfFileResponse{File: &libraryv1.ShelfFile{Name: "f", Content: bytes.Repeat([]byte{0xab}, 100), SizeBytes: 100}}},
		{"watch", &libraryv1.WatchShelfResponse{ChangeType: libraryv1.WatchShelfResponse_CHANGE_TYPE_DELETED, Book: &libraryv1.Book{}, ChangeTime: &timestamppb.Timestamp{Seconds: -1}}},
		{"import", &libraryv1.ImportBooksResponse{BookNames: []string{"a", "", "c"}, ImportedCount: 2, Failures: []*libraryv1.ImportBooksResponse_Failure{{Index: 1}}}},
		{"discuss", &libraryv1.DiscussBookResponse{Name: "n", Speaker: "s", Text: "\u2028\x01\x7f\"\\", Sequence: -9, SendTime: &timestamppb.Timestamp{Nanos: 1}}},
		{"update request", &libraryv1.UpdateBookRequest{Book: book, UpdateMask: nil}},
		{"delete", &libraryv1.DeleteShelfResponse{}},
		{"upload", &libraryv1.UploadBookResponse{Name: "n", SizeBytes: math.MaxInt64, ContentType: "text/plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			same(t, tt.msg.ProtoReflect().Descriptor(), mustMarshal(t, tt.msg))
		})
	}
}

func TestEveryDemoType(t *testing.T) {
	t.Parallel()
	msgs := libraryv1.File_sluice_demo_library_v1_library_proto.Messages()
	var all []protoreflect.MessageDescriptor
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			if !ms.Get(i).IsMapEntry() {
				all = append(all, ms.Get(i))
			}
			walk(ms.Get(i).Messages())
		}
	}
	walk(msgs)
	if len(all) < 30 {
		t.Fatalf("found %d demo message types", len(all))
	}
	r := newRand(1)
	for _, md := range all {
		for range 20 {
			m := dynamicpb.NewMessage(md)
			fill(r, m, 0)
			same(t, md, mustMarshal(t, m))
		}
	}
}

// set returns a new message of type md with fields set from name/value
// pairs.
func set(md protoreflect.MessageDescriptor, kv ...any) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	for i := 0; i < len(kv); i += 2 {
		fd := md.Fields().ByName(protoreflect.Name(kv[i].(string)))
		if fd == nil {
			panic("no field " + kv[i].(string))
		}
		switch v := kv[i+1].(type) {
		case proto.Message:
			m.Set(fd, protoreflect.ValueOfMessage(v.ProtoReflect()))
		case protoreflect.Value:
			m.Set(fd, v)
		case []protoreflect.Value:
			l := m.Mutable(fd).List()
			for _, e := range v {
				l.Append(e)
			}
		case map[any]protoreflect.Value:
			mp := m.Mutable(fd).Map()
			for k, e := range v {
				mp.Set(protoreflect.ValueOf(k).MapKey(), e)
			}
		default:
			m.Set(fd, protoreflect.ValueOf(v))
		}
	}
	return m
}

func TestWellKnownTypes(t *testing.T) {
	t.Parallel()
	rich, _, _ := testFiles(t)
	nested, _ := structpb.NewList([]any{[]any{[]any{}}, map[string]any{}, nil, "s", 0.0, -1e300, false})
	emptyStruct := &structpb.Struct{}
	deep, _ := structpb.NewStruct(map[string]any{"b": map[string]any{"c": []any{map[string]any{"d": 1.0}}}, "a": 1e21, "c": 1e-7})
	tests := []struct {
		name string
		kv   []any
	}{
		{"zero duration", []any{"dur", &durationpb.Duration{}}},
		{"negative duration", []any{"dur", &durationpb.Duration{Seconds: -1, Nanos: -500000000}}},
		{"negative nanos only", []any{"dur", &durationpb.Duration{Nanos: -1}}},
		{"micro duration", []any{"dur", &durationpb.Duration{Seconds: 3, Nanos: 1000}}},
		{"max duration", []any{"dur", &durationpb.Duration{Seconds: 315576000000, Nanos: 999999999}}},
		{"min duration", []any{"dur", &durationpb.Duration{Seconds: -315576000000, Nanos: -999999999}}},
		{"epoch", []any{"ts", &timestamppb.Timestamp{}}},
		{"before epoch", []any{"ts", &timestamppb.Timestamp{Seconds: -1, Nanos: 999999999}}},
		{"year one", []any{"ts", &timestamppb.Timestamp{Seconds: -62135596800}}},
		{"year 9999", []any{"ts", &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999000000}}},
		{"leap day", []any{"ts", timestamppb.New(time.Date(2000, 2, 29, 23, 59, 59, 1000, time.UTC))}},
		{"1900 march", []any{"ts", timestamppb.New(time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC))}},
		{"empty struct", []any{"st", emptyStruct}},
		{"deep struct", []any{"st", deep}},
		{"nested lists", []any{"lv", nested}},
		{"empty list", []any{"lv", &structpb.ListValue{}}},
		{"null value", []any{"val", structpb.NewNullValue()}},
		{"string value", []any{"val", structpb.NewStringValue("\x00")}},
		{"struct value", []any{"val", structpb.NewStructValue(emptyStruct)}},
		{"list value", []any{"val", structpb.NewListValue(nested)}},
		{"number value", []any{"val", structpb.NewNumberValue(math.Copysign(0, -1))}},
		{"field mask", []any{"fm", mustFieldMask("a", "foo_bar.baz_qux", "x1", "_a.b")}},
		{"empty field mask", []any{"fm", mustFieldMask()}},
		{"wrappers zero", []any{"w_bool", wrapperspb.Bool(false), "w_i32", wrapperspb.Int32(0), "w_i64", wrapperspb.Int64(0), "w_u32", wrapperspb.UInt32(0), "w_u64", wrapperspb.UInt64(0), "w_fl", wrapperspb.Float(0), "w_db", wrapperspb.Double(0), "w_s", wrapperspb.String(""), "w_by", wrapperspb.Bytes(nil)}},
		{"wrappers", []any{"w_bool", wrapperspb.Bool(true), "w_i32", wrapperspb.Int32(-1), "w_i64", wrapperspb.Int64(math.MinInt64), "w_u32", wrapperspb.UInt32(math.MaxUint32), "w_u64", wrapperspb.UInt64(math.MaxUint64), "w_fl", wrapperspb.Float(float32(math.Inf(-1))), "w_db", wrapperspb.Double(math.NaN()), "w_s", wrapperspb.String("s"), "w_by", wrapperspb.Bytes([]byte("b"))}},
		{"double specials", []any{"r_db", []protoreflect.Value{protoreflect.ValueOfFloat64(math.NaN()), protoreflect.ValueOfFloat64(math.Inf(1)), protoreflect.ValueOfFloat64(math.Inf(-1)), protoreflect.ValueOfFloat64(math.Copysign(0, -1)), protoreflect.ValueOfFloat64(1e21), protoreflect.ValueOfFloat64(1e-7), protoreflect.ValueOfFloat64(123456789.125), protoreflect.ValueOfFloat64(5e-324)}}},
		{"float specials", []any{"r_fl", []protoreflect.Value{protoreflect.ValueOfFloat32(float32(math.NaN())), protoreflect.ValueOfFloat32(1e21), protoreflect.ValueOfFloat32(9.999999e-7), protoreflect.ValueOfFloat32(0.1), protoreflect.ValueOfFloat32(math.MaxFloat32), protoreflect.ValueOfFloat32(1e-45)}}},
		{"negative zero scalar", []any{"db", math.Copysign(0, -1), "fl", float32(math.Copysign(0, -1))}},
		{"empty", []any{"empty", &structpb.Struct{}}},
		{"null value enum", []any{"nv", protoreflect.EnumNumber(0)}},
		{"repeated timestamps", []any{"r_ts", []protoreflect.Value{protoreflect.ValueOfMessage((&timestamppb.Timestamp{Seconds: 1}).ProtoReflect()), protoreflect.ValueOfMessage((&timestamppb.Timestamp{}).ProtoReflect())}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kv := tt.kv
			if tt.name == "empty" {
				// google.protobuf.Empty has no special form: it prints {}.
				kv = []any{"empty", dynamicpb.NewMessage(rich.Fields().ByName("empty").Message())}
			}
			same(t, rich, mustMarshal(t, set(rich, kv...)))
		})
	}
}

func TestRichMessages(t *testing.T) {
	t.Parallel()
	rich, p2, _ := testFiles(t)
	color := func(n protoreflect.EnumNumber) protoreflect.Value { return protoreflect.ValueOfEnum(n) }
	str := protoreflect.ValueOfString
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"empty", set(rich)},
		{"json name", set(rich, "json_named", "x")},
		{"scalar extremes", set(rich, "i32", int32(math.MinInt32), "i64", int64(math.MinInt64), "u32", uint32(math.MaxUint32), "u64", uint64(math.MaxUint64), "s32", int32(math.MinInt32), "s64", int64(math.MaxInt64), "f32", uint32(1), "f64", uint64(math.MaxUint64), "sf32", int32(-2), "sf64", int64(math.MinInt64), "b", true, "s", "ä\t\"\\/\u2028\ufffd<>&\x1f", "by", []byte{0xff})},
		{"enums", set(rich, "color", color(1), "r_color", []protoreflect.Value{color(0), color(2), color(1000), color(-3), color(77), color(-77)})},
		{"unknown enum", set(rich, "color", color(99))},
		{"optional zero", set(rich, "opt_i32", int32(0), "opt_s", "", "opt_color", color(0))},
		{"oneof zero int", set(rich, "c_i32", int32(0))},
		{"oneof empty string", set(rich, "c_s", "")},
		{"oneof message", set(rich, "c_msg", set(rich))},
		{"oneof enum", set(rich, "c_color", color(0))},
		{"oneof bytes", set(rich, "c_by", []byte{})},
		{"child and children", set(rich, "child", set(rich, "i32", int32(1)), "children", []protoreflect.Value{protoreflect.ValueOfMessage(set(rich)), protoreflect.ValueOfMessage(set(rich, "s", "x"))})},
		{"string map", set(rich, "m_s", map[any]protoreflect.Value{"b": protoreflect.ValueOfMessage(set(rich)), "a": protoreflect.ValueOfMessage(set(rich, "b", true)), "": protoreflect.ValueOfMessage(set(rich))})},
		{"int maps", set(rich,
			"m_i32", map[any]protoreflect.Value{int32(-1): str("m"), int32(10): str("t"), int32(2): str("d")},
			"m_i64", map[any]protoreflect.Value{int64(math.MinInt64): protoreflect.ValueOfInt64(1), int64(3): protoreflect.ValueOfInt64(0)},
			"m_u32", map[any]protoreflect.Value{uint32(math.MaxUint32): color(1), uint32(0): color(9)},
			"m_u64", map[any]protoreflect.Value{uint64(math.MaxUint64): protoreflect.ValueOfBytes(nil), uint64(1): protoreflect.ValueOfBytes([]byte("z"))},
			"m_s32", map[any]protoreflect.Value{int32(-5): protoreflect.ValueOfFloat64(math.NaN()), int32(5): protoreflect.ValueOfFloat64(1)},
			"m_s64", map[any]protoreflect.Value{int64(-5): protoreflect.ValueOfFloat32(1.5), int64(-6): protoreflect.ValueOfFloat32(0)},
			"m_f32", map[any]protoreflect.Value{uint32(7): protoreflect.ValueOfBool(true), uint32(6): protoreflect.ValueOfBool(false)},
			"m_f64", map[any]protoreflect.Value{uint64(1 << 63): protoreflect.ValueOfUint64(5)},
			"m_sf32", map[any]protoreflect.Value{int32(-100): protoreflect.ValueOfInt32(-1), int32(100): protoreflect.ValueOfInt32(1)},
			"m_sf64", map[any]protoreflect.Value{int64(-100): protoreflect.ValueOfMessage(set(rich)), int64(-101): protoreflect.ValueOfMessage(set(rich, "i64", int64(1)))},
			"m_b", map[any]protoreflect.Value{true: str("t"), false: str("f")},
		)},
		{"value map", set(rich, "m_val", map[any]protoreflect.Value{"n": protoreflect.ValueOfMessage(structpb.NewNullValue().ProtoReflect()), "b": protoreflect.ValueOfMessage(structpb.NewBoolValue(true).ProtoReflect())})},
		{"p2 empty", dynamicpb.NewMessage(p2)},
		{"p2 zeros", set(p2, "i32", int32(0), "s", "", "by", []byte{}, "d", 0.0, "f", float32(0), "b", false, "shade", protoreflect.EnumNumber(1))},
		{"p2 unknown closed enum", set(p2, "shade", protoreflect.EnumNumber(9), "shades", []protoreflect.Value{color(9), color(1)}, "m", map[any]protoreflect.Value{"k": protoreflect.ValueOfInt64(-5)})},
		{"p2 repeated", set(p2, "unpacked", []protoreflect.Value{protoreflect.ValueOfInt32(1), protoreflect.ValueOfInt32(-1)}, "packed", []protoreflect.Value{protoreflect.ValueOfInt32(2)}, "child", set(p2, "i32", int32(3)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			same(t, tt.msg.ProtoReflect().Descriptor(), mustMarshal(t, tt.msg))
		})
	}
}

// Hand-built wire data: shapes a marshaller does not write but the wire
// format allows.
func TestWireShapes(t *testing.T) {
	t.Parallel()
	rich, p2, _ := testFiles(t)
	num := func(md protoreflect.MessageDescriptor, name string) protowire.Number {
		return md.Fields().ByName(protoreflect.Name(name)).Number()
	}
	varint := func(md protoreflect.MessageDescriptor, name string, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num(md, name), protowire.VarintType), v)
	}
	bytesField := func(md protoreflect.MessageDescriptor, name string, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num(md, name), protowire.BytesType), b)
	}
	packed := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = protowire.AppendVarint(b, v)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bookMD := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	child1 := mustMarshal(t, set(rich, "i32", int32(1), "s", "a", "r_i32", []protoreflect.Value{protoreflect.ValueOfInt32(1)}))
	child2 := mustMarshal(t, set(rich, "i64", int64(2), "s", "b", "r_i32", []protoreflect.Value{protoreflect.ValueOfInt32(2)}))
	tests := []struct {
		name string
		md   protoreflect.MessageDescriptor
		data []byte
	}{
		{"unpacked proto3 repeated", rich, cat(varint(rich, "r_i32", 1), varint(rich, "r_i32", 1<<40), varint(rich, "r_color", 2))},
		{"mixed packed and unpacked", rich, cat(varint(rich, "r_i32", 1), bytesField(rich, "r_i32", packed(2, 3)), varint(rich, "i32", 9), varint(rich, "r_i32", 4), bytesField(rich, "r_i32", nil))},
		{"only empty packed run", rich, bytesField(rich, "r_i32", nil)},
		{"packed fixed", rich, cat(bytesField(rich, "r_f32", []byte{1, 0, 0, 0, 2, 0, 0, 0}), bytesField(rich, "r_db", make([]byte, 8)))},
		{"packed into proto2 unpacked field", p2, cat(bytesField(p2, "unpacked", packed(5, 6)), varint(p2, "packed", 7))},
		{"out of order", rich, cat(varint(rich, "color", 2), bytesField(rich, "json_named", []byte("j")), varint(rich, "i32", 5))},
		{"last scalar wins", rich, cat(varint(rich, "i32", 5), varint(rich, "i32", 6), bytesField(rich, "s", []byte("a")), bytesField(rich, "s", []byte("b")))},
		{"explicit zero is unset", rich, cat(varint(rich, "i32", 5), varint(rich, "i32", 0), varint(rich, "b", 0), bytesField(rich, "s", nil))},
		{"narrowed to zero", rich, cat(varint(rich, "i32", 1<<32), varint(rich, "u32", 1<<33), varint(rich, "color", 1<<32), varint(rich, "s32", 1<<32))},
		{"bool from big varint", rich, varint(rich, "b", 1<<40)},
		{"messages merge", rich, cat(bytesField(rich, "child", child1), varint(rich, "i32", 3), bytesField(rich, "child", child2))},
		{"concatenated messages", rich, cat(mustMarshal(t, set(rich, "i32", int32(1), "child", set(rich, "s", "x"), "r_s", []protoreflect.Value{protoreflect.ValueOfString("a")})), mustMarshal(t, set(rich, "i64", int64(2), "child", set(rich, "b", true), "r_s", []protoreflect.Value{protoreflect.ValueOfString("b")})))},
		{"oneof last wins", rich, cat(varint(rich, "c_i32", 1), bytesField(rich, "c_s", []byte("s")), varint(rich, "c_color", 2))},
		{"oneof returns to member", rich, cat(varint(rich, "c_i32", 1), bytesField(rich, "c_s", []byte("s")), varint(rich, "c_i32", 0))},
		{"oneof message merges", rich, cat(bytesField(rich, "c_msg", child1), bytesField(rich, "c_msg", child2))},
		{"oneof scalar replaced by message", rich, cat(varint(rich, "c_i32", 1), bytesField(rich, "c_msg", child1))},
		{"unknown fields", rich, cat(protowire.AppendVarint(protowire.AppendTag(nil, 1000, protowire.VarintType), 1), varint(rich, "i32", 1), protowire.AppendBytes(protowire.AppendTag(nil, 5000, protowire.BytesType), []byte("zz")), protowire.AppendTag(protowire.AppendTag(nil, 7, protowire.StartGroupType), 7, protowire.EndGroupType), protowire.AppendFixed32(protowire.AppendTag(nil, 2001, protowire.Fixed32Type), 1))},
		{"wrong wire type is unknown", rich, cat(protowire.AppendFixed32(protowire.AppendTag(nil, num(rich, "i32"), protowire.Fixed32Type), 1), varint(rich, "s", 1), varint(rich, "child", 3), varint(rich, "m_s", 3), bytesField(rich, "i64", []byte{1}), varint(rich, "r_s", 1))},
		{"map entry without key or value", rich, cat(bytesField(rich, "m_s", nil), bytesField(rich, "m_i32", varint(rich, "i32", 0)[:0]), bytesField(rich, "m_b", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)), bytesField(rich, "m_u32", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 3)))},
		{"map duplicate keys", rich, cat(
			bytesField(rich, "m_i32", cat(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte("first")))),
			bytesField(rich, "m_i32", cat(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0))),
			bytesField(rich, "m_i32", cat(protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte("second")), protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1))),
		)},
		{"map entry value wrong wire type", rich, bytesField(rich, "m_i32", cat(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 5)))},
		{"struct duplicate keys", rich, cat(
			bytesField(rich, "st", mustMarshal(t, &structpb.Struct{Fields: map[string]*structpb.Value{"k": structpb.NewStringValue("a")}})),
			bytesField(rich, "st", mustMarshal(t, &structpb.Struct{Fields: map[string]*structpb.Value{"j": structpb.NewNumberValue(2)}})),
		)},
		{"value kind changes", rich, bytesField(rich, "val", cat(mustMarshal(t, structpb.NewBoolValue(true)), mustMarshal(t, structpb.NewStringValue("s"))))},
		{"map key repeated with another wire type", bookMD, protowire.AppendBytes(protowire.AppendTag(nil, 9, protowire.BytesType), cat(
			protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("a")),
			protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 5),
			protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte("v")),
		))},
		{"proto2 explicit zero is set", p2, cat(varint(p2, "i32", 0), bytesField(p2, "s", nil), varint(p2, "b", 0))},
		{"timestamp fields split", rich, bytesField(rich, "ts", cat(mustMarshal(t, &timestamppb.Timestamp{Seconds: 5}), mustMarshal(t, &timestamppb.Timestamp{Nanos: 7})))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			same(t, tt.md, tt.data)
		})
	}
}

func mustFieldMask(paths ...string) proto.Message {
	fm, err := protoregistry.GlobalTypes.FindMessageByName("google.protobuf.FieldMask")
	if err != nil {
		panic(err)
	}
	m := fm.New()
	l := m.Mutable(m.Descriptor().Fields().ByNumber(1)).List()
	for _, p := range paths {
		l.Append(protoreflect.ValueOfString(p))
	}
	return m.Interface()
}

// TestFallbacks pins the inputs that fall back, and checks protojson does
// print or reject them itself.
func TestFallbacks(t *testing.T) {
	t.Parallel()
	rich, p2, hasReq := testFiles(t)
	bytesField := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
	}
	cMsg := rich.Fields().ByName("c_msg").Number()
	cI32 := rich.Fields().ByName("c_i32").Number()
	mSf64 := rich.Fields().ByName("m_sf64").Number()
	entry := bytesField(mSf64, append(protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), 1), bytesField(2, nil)...))
	tests := []struct {
		name        string
		md          protoreflect.MessageDescriptor
		data        []byte
		protojsonOK bool
	}{
		{"any", rich, mustMarshal(t, set(rich, "any", dynamicpb.NewMessage(rich.Fields().ByName("any").Message()))), true},
		{"timestamp out of range", rich, mustMarshal(t, set(rich, "ts", &timestamppb.Timestamp{Seconds: 253402300800})), false},
		{"timestamp negative nanos", rich, mustMarshal(t, set(rich, "ts", &timestamppb.Timestamp{Nanos: -1})), false},
		{"duration out of range", rich, mustMarshal(t, set(rich, "dur", &durationpb.Duration{Seconds: 315576000001})), false},
		{"duration sign mismatch", rich, mustMarshal(t, set(rich, "dur", &durationpb.Duration{Seconds: 1, Nanos: -1})), false},
		{"duration nanos out of range", rich, mustMarshal(t, set(rich, "dur", &durationpb.Duration{Nanos: 1e9})), false},
		{"value without kind", rich, mustMarshal(t, set(rich, "val", &structpb.Value{})), false},
		{"value NaN", rich, mustMarshal(t, set(rich, "val", structpb.NewNumberValue(math.NaN()))), false},
		{"struct entry without value", rich, mustMarshal(t, set(rich, "st", &structpb.Struct{Fields: map[string]*structpb.Value{"k": nil}})), false},
		{"field mask irreversible", rich, mustMarshal(t, set(rich, "fm", mustFieldMask("fooBar"))), false},
		{"field mask digit after underscore", rich, mustMarshal(t, set(rich, "fm", mustFieldMask("a_1"))), false},
		{"field mask empty path", rich, mustMarshal(t, set(rich, "fm", mustFieldMask(""))), false},
		{"required missing", hasReq, mustMarshal(t, set(hasReq, "r", dynamicpb.NewMessage(hasReq.Fields().ByName("r").Message()))), false},
		{"group", p2, protowire.AppendTag(protowire.AppendTag(nil, 12, protowire.StartGroupType), 12, protowire.EndGroupType), true},
		{"extension", p2, protowire.AppendVarint(protowire.AppendTag(nil, 150, protowire.VarintType), 1), true},
		{"oneof message replaced", rich, append(bytesField(cMsg, nil), protowire.AppendVarint(protowire.AppendTag(nil, cI32, protowire.VarintType), 1)...), true},
		{"duplicate map key with message value", rich, append(append([]byte{}, entry...), entry...), true},
		{"overwritten invalid UTF-8", p2, append(bytesField(2, []byte{0xff}), bytesField(2, []byte("ok"))...), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, o := range allOptions() {
				err := differ(t, tt.md, tt.data, o)
				if !errors.Is(err, jsoncodec.ErrFallback) {
					t.Fatalf("%+v: err = %v, want ErrFallback", o, err)
				}
				if _, werr := reference(tt.md, tt.data, o); (werr == nil) != tt.protojsonOK {
					t.Errorf("%+v: protojson error %v, want ok=%v", o, werr, tt.protojsonOK)
				}
			}
		})
	}
	t.Run("required present", func(t *testing.T) {
		t.Parallel()
		req := hasReq.Fields().ByName("r").Message()
		same(t, hasReq, mustMarshal(t, set(hasReq, "r", set(req, "id", int32(0)))))
	})
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	rich, p2, _ := testFiles(t)
	book := mustMarshal(t, demoBook())
	bookMD := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	deep := []byte{}
	childNum := rich.Fields().ByName("child").Number()
	for range 10050 {
		deep = protowire.AppendBytes(protowire.AppendTag(nil, childNum, protowire.BytesType), deep)
	}
	tests := []struct {
		name string
		md   protoreflect.MessageDescriptor
		data []byte
	}{
		{"truncated varint", rich, []byte{0x08, 0x80}},
		{"truncated tag", rich, []byte{0x80}},
		{"overlong varint", rich, append([]byte{0x08}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"length past end", rich, []byte{0x72, 0x05, 'a'}},
		{"huge length", rich, append([]byte{0x72}, protowire.AppendVarint(nil, math.MaxInt64)...)},
		{"field number zero", rich, []byte{0x00, 0x01}},
		{"field number too big", rich, protowire.AppendVarint(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), 1)},
		{"end group at top", rich, protowire.AppendTag(nil, 5, protowire.EndGroupType)},
		{"wire type 6", rich, []byte{0x0e}},
		{"truncated fixed32", rich, []byte{0x3d, 1, 2}},
		{"truncated packed", rich, protowire.AppendBytes(protowire.AppendTag(nil, 21, protowire.BytesType), []byte{0x80})},
		{"packed fixed32 odd length", rich, protowire.AppendBytes(protowire.AppendTag(nil, 27, protowire.BytesType), []byte{1, 2, 3})},
		{"invalid UTF-8 string", rich, protowire.AppendBytes(protowire.AppendTag(nil, 14, protowire.BytesType), []byte{'a', 0xc3})},
		{"invalid UTF-8 proto2 string", p2, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{0xff})},
		{"invalid UTF-8 map key", rich, protowire.AppendBytes(protowire.AppendTag(nil, 71, protowire.BytesType), protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xed, 0xa0, 0x80}))},
		{"truncated map entry", rich, protowire.AppendBytes(protowire.AppendTag(nil, 60, protowire.BytesType), []byte{0x08})},
		{"truncated nested message", rich, protowire.AppendBytes(protowire.AppendTag(nil, childNum, protowire.BytesType), []byte{0x08})},
		{"deep nesting", rich, deep},
		{"truncated book", bookMD, book[:len(book)-1]},
		{"book cut inside", bookMD, book[:len(book)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, o := range allOptions() {
				_, err := encoders[o].AppendMessage(nil, tt.data, tt.md)
				if err == nil || errors.Is(err, jsoncodec.ErrFallback) {
					t.Fatalf("%+v: err = %v, want a wire error", o, err)
				}
				if _, werr := reference(tt.md, tt.data, o); werr == nil {
					t.Errorf("%+v: protojson path accepts this input", o)
				}
			}
		})
	}
}

// marshalField is the REST adapter's response_body printing that
// AppendField replaces (transcoding/response.go).
func marshalField(opts protojson.MarshalOptions, m protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		return opts.Marshal(m.Get(fd).Message().Interface())
	}
	only := m.New()
	if m.Has(fd) {
		only.Set(fd, m.Get(fd))
	}
	opts.EmitUnpopulated = true
	whole, err := opts.Marshal(only.Interface())
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(whole, &obj); err != nil {
		return nil, err
	}
	name := fd.JSONName()
	if opts.UseProtoNames {
		name = string(fd.Name())
	}
	return obj[name], nil
}

func TestAppendField(t *testing.T) {
	t.Parallel()
	rich, p2, _ := testFiles(t)
	msgs := []proto.Message{
		set(rich),
		mustDynamic(t, rich, mustMarshal(t, demoRich(t, rich))),
		set(rich, "c_s", "x", "opt_i32", int32(0), "r_color", []protoreflect.Value{protoreflect.ValueOfEnum(1)}),
		set(p2, "i32", int32(0), "shades", []protoreflect.Value{protoreflect.ValueOfEnum(2)}),
		dynamicpb.NewMessage(p2),
		&libraryv1.GetBookResponse{Book: demoBook()},
		&libraryv1.GetBookResponse{},
	}
	for _, m := range msgs {
		md := m.ProtoReflect().Descriptor()
		data := mustMarshal(t, m)
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			for _, o := range allOptions() {
				got, err := encoders[o].AppendField(nil, data, md, fd)
				ref := newMessage(md)
				if err := proto.Unmarshal(data, ref); err != nil {
					t.Fatal(err)
				}
				want, werr := marshalField(marshalOptions(o), ref.ProtoReflect(), fd)
				switch {
				case errors.Is(err, jsoncodec.ErrFallback):
					// Unset oneof members fall back, and what protojson rejects.
					if werr == nil && !strings.Contains(err.Error(), "unset oneof member") && !strings.Contains(err.Error(), "Any") {
						t.Errorf("%s %+v: unexpected fallback %v", fd.FullName(), o, err)
					}
				case err != nil || werr != nil:
					if (err == nil) != (werr == nil) {
						t.Errorf("%s %+v: err %v, reference err %v", fd.FullName(), o, err, werr)
					}
				default:
					if g, w := compact(t, got), compact(t, want); g != w {
						t.Errorf("%s %+v:\n got %s\nwant %s", fd.FullName(), o, g, w)
					}
				}
			}
		}
	}
	t.Run("foreign field", func(t *testing.T) {
		t.Parallel()
		_, err := encoders[jsoncodec.MarshalOptions{}].AppendField(nil, nil, rich, p2.Fields().Get(0))
		if err == nil || errors.Is(err, jsoncodec.ErrFallback) {
			t.Fatalf("err = %v, want an error", err)
		}
	})
}

func mustDynamic(tb testing.TB, md protoreflect.MessageDescriptor, data []byte) proto.Message {
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(data, m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// demoRich is a well-populated wjtest.Rich without fallback cases.
func demoRich(tb testing.TB, rich protoreflect.MessageDescriptor) proto.Message {
	r := newRand(7)
	for {
		m := dynamicpb.NewMessage(rich)
		fill(r, m, 0)
		if !m.Has(rich.Fields().ByName("any")) {
			return m
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	rich, _, _ := testFiles(t)
	data := mustMarshal(t, demoRich(t, rich))
	want, err := reference(rich, data, jsoncodec.MarshalOptions{UseProtoNames: true})
	if err != nil {
		t.Fatal(err)
	}
	enc := jsoncodec.NewEncoder(jsoncodec.MarshalOptions{UseProtoNames: true})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				got, err := enc.AppendMessage(nil, data, rich)
				if err != nil {
					errs <- err
					return
				}
				var a, b bytes.Buffer
				_ = json.Compact(&a, got)
				_ = json.Compact(&b, want)
				if a.String() != b.String() {
					errs <- fmt.Errorf("got %s want %s", a.String(), b.String())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEncodeNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	data := mustMarshal(t, demoBook())
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	for _, o := range allOptions() {
		enc := jsoncodec.NewEncoder(o)
		buf := make([]byte, 0, 4096)
		if _, err := enc.AppendMessage(buf, data, md); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = enc.AppendMessage(buf, data, md)
		})
		if allocs > 0 {
			t.Errorf("%+v: %v allocations per call, want 0", o, allocs)
		}
	}
}
