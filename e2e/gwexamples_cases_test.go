package e2e_test

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
)

// The examples' differential table. Unlike the demo's, the upstream keeps
// no state, so the order of the rows does not matter; they are grouped by
// service and binding.

const abe = "/v1/example/a_bit_of_everything"

// abeCreateParams are the path variables of ABitOfEverythingService.Create
// in template order, with a valid value each.
var abeCreateParams = []struct{ name, value string }{
	{"float_value", "1.5"},
	{"double_value", "2.5"},
	{"int64_value", "-9000000000"},
	{"separator", "separator"}, // a literal segment of the template
	{"uint64_value", "18446744073709551615"},
	{"int32_value", "-7"},
	{"fixed64_value", "9"},
	{"fixed32_value", "10"},
	{"bool_value", "true"},
	{"string_value", "strprefix/foo"},
	{"uint32_value", "4294967295"},
	{"sfixed32_value", "-11"},
	{"sfixed64_value", "-12"},
	{"sint32_value", "-13"},
	{"sint64_value", "-14"},
	{"nonConventionalNameValue", "camel"},
	{"enum_value", "ONE"},
	{"path_enum_value", "DEF"},
	{"nested_path_enum_value", "JKL"},
	{"enum_value_annotation", "ONE"},
}

// abeCreatePath is Create's path with param i (if any) set to v.
func abeCreatePath(i int, v string) string {
	segs := make([]string, len(abeCreateParams))
	for j, p := range abeCreateParams {
		segs[j] = p.value
		if j == i {
			segs[j] = v
		}
	}
	return abe + "/" + strings.Join(segs, "/")
}

// abeCreateVariants are more values (good and bad) for Create's path
// variables, with grpc-gateway's status for each.
var abeCreateVariants = map[string][]struct {
	value  string
	status int
}{
	"float_value":              {{"-1.5", 200}, {"1e10", 200}, {"NaN", 200}, {"Infinity", 200}, {"-Infinity", 200}, {"0", 200}, {"abc", 400}, {"3.5e39", 400}},
	"double_value":             {{"-0", 200}, {"1.7976931348623157e308", 200}, {"1e400", 400}, {"x", 400}},
	"int64_value":              {{"9223372036854775807", 200}, {"-9223372036854775808", 200}, {"9223372036854775808", 400}, {"1.0", 400}},
	"uint64_value":             {{"0", 200}, {"18446744073709551616", 400}, {"-1", 400}},
	"int32_value":              {{"2147483647", 200}, {"2147483648", 400}, {"0x10", 400}},
	"fixed64_value":            {{"0", 200}, {"-1", 400}},
	"fixed32_value":            {{"4294967295", 200}, {"4294967296", 400}},
	"bool_value":               {{"false", 200}, {"1", 200}, {"0", 200}, {"t", 200}, {"F", 200}, {"True", 200}, {"yes", 400}},
	"string_value":             {{"strprefix/with%20space", 200}, {"strprefix/caf%C3%A9", 200}, {"strprefix/a%2Fb", 404}, {"other/foo", 404}},
	"uint32_value":             {{"0", 200}, {"4294967296", 400}},
	"sfixed32_value":           {{"2147483647", 200}, {"-2147483649", 400}},
	"sfixed64_value":           {{"9223372036854775807", 200}},
	"sint32_value":             {{"-2147483648", 200}, {"abc", 400}},
	"sint64_value":             {{"-9223372036854775808", 200}},
	"nonConventionalNameValue": {{"with%20space", 200}, {"%E2%82%AC", 200}},
	"enum_value":               {{"ZERO", 200}, {"0", 200}, {"1", 200}, {"TWO", 400}, {"99", 400}, {"one", 400}},
	"path_enum_value":          {{"ABC", 200}, {"0", 200}, {"GHI", 400}},
	"nested_path_enum_value":   {{"GHI", 200}, {"1", 200}, {"DEF", 400}},
	"enum_value_annotation":    {{"ZERO", 200}, {"2", 400}},
}

// abeBody is a full ABitOfEverything in JSON.
const abeBody = `{"singleNested":{"name":"n","amount":3,"ok":"TRUE"},"uuid":"u-1","nested":[{"name":"a"},{"name":"b","amount":1}],` +
	`"floatValue":1.5,"doubleValue":-2.25,"int64Value":"-12","uint64Value":"18446744073709551615","int32Value":-3,` +
	`"fixed64Value":"4","fixed32Value":5,"boolValue":true,"stringValue":"s","bytesValue":"AQID","uint32Value":6,` +
	`"enumValue":"ONE","pathEnumValue":"DEF","nestedPathEnumValue":"JKL","sfixed32Value":-7,"sfixed64Value":"-8",` +
	`"sint32Value":-9,"sint64Value":"-10","repeatedStringValue":["x","y"],"oneofString":"o",` +
	`"mapValue":{"a":"ONE","b":"ZERO"},"mappedStringValue":{"k":"v"},"mappedNestedValue":{"m":{"name":"mn"}},` +
	`"nonConventionalNameValue":"ncn","timestampValue":"2024-02-29T12:00:00.5Z","repeatedEnumValue":["ONE","ZERO"],` +
	`"repeatedEnumAnnotation":[1],"enumValueAnnotation":"ONE","repeatedStringAnnotation":["r"],` +
	`"repeatedNestedAnnotation":[{"name":"rn"}],"nestedAnnotation":{"name":"na"},"int64OverrideType":"77",` +
	`"requiredStringViaFieldBehaviorAnnotation":"req","outputOnlyStringViaFieldBehaviorAnnotation":"out",` +
	`"optionalStringValue":"opt","productId":["p1","p2"],"optionalStringField":"osf","requiredStringField1":"r1",` +
	`"requiredStringField2":"r2","required_field_behavior_json_name_custom":"rj","required_field_schema_json_name_custom":"rs",` +
	`"trailingOnly":"t1","trailingOnlyDot":"t2","trailingBoth":"t3","trailingMultiline":"t4","uuids":["u1","u2"]}`

// abeQueries are query strings for the GET bindings of ABitOfEverything,
// one per kind of field, with grpc-gateway's status.
var abeQueries = []struct {
	name, query string
	status      int
}{
	{"float", "float_value=1.5", 200},
	{"double", "double_value=-2.5e-3", 200},
	{"int64", "int64_value=-9223372036854775808", 200},
	{"int64-bad", "int64_value=1e3", 400},
	{"uint64", "uint64_value=18446744073709551615", 200},
	{"int32", "int32_value=-5", 200},
	{"fixed64", "fixed64_value=7", 200},
	{"fixed32", "fixed32_value=8", 200},
	{"bool", "bool_value=true", 200},
	{"bool-bad", "bool_value=maybe", 400},
	{"string", "string_value=hello%20world", 200},
	{"string-plus", "string_value=a+b", 200},
	{"bytes-std", "bytes_value=AQID", 200},
	{"bytes-url", "bytes_value=-_8", 200},
	{"bytes-bad", "bytes_value=%25%25", 400},
	{"uint32", "uint32_value=9", 200},
	{"enum-name", "enum_value=ONE", 200},
	{"enum-number", "enum_value=1", 200},
	{"enum-bad", "enum_value=NOPE", 400},
	{"path-enum", "path_enum_value=DEF", 200},
	{"nested-path-enum", "nested_path_enum_value=JKL", 200},
	{"sfixed32", "sfixed32_value=-1", 200},
	{"sfixed64", "sfixed64_value=-2", 200},
	{"sint32", "sint32_value=-3", 200},
	{"sint64", "sint64_value=-4", 200},
	{"repeated-string", "repeated_string_value=a&repeated_string_value=b", 200},
	{"repeated-string-json-name", "repeatedStringValue=a&repeatedStringValue=b", 200},
	{"repeated-enum", "repeated_enum_value=ONE&repeated_enum_value=0", 200},
	{"oneof-string", "oneof_string=x", 200},
	{"oneof-two", "oneof_string=x&oneof_empty=", 400},
	{"map-string", "mapped_string_value%5Bk%5D=v", 200},
	{"map-enum", "map_value%5Bk%5D=ONE", 200},
	{"map-two-keys", "mapped_string_value%5Ba%5D=1&mapped_string_value%5Bb%5D=2", 200},
	{"nested-name", "single_nested.name=deep", 200},
	{"nested-amount", "single_nested.amount=12", 200},
	{"nested-enum", "single_nested.ok=TRUE", 200},
	{"nested-json-name", "singleNested.name=deep", 200},
	{"timestamp", "timestamp_value=2024-02-29T12:00:00Z", 200},
	{"timestamp-nanos", "timestamp_value=2024-02-29T12:00:00.123456789%2B02:00", 200},
	{"timestamp-bad", "timestamp_value=yesterday", 400},
	{"non-conventional", "nonConventionalNameValue=ncn", 200},
	{"optional", "optional_string_value=", 200},
	{"json-name-custom", "required_field_behavior_json_name_custom=x", 200},
	{"uuids", "uuids=a&uuids=b&uuids=c", 200},
	{"unknown", "no_such_field=1", 200},
	{"repeated-nested-ignored", "nested.name=x", 400},
	{"many", "float_value=1&int32_value=2&bool_value=false&string_value=s&enum_value=ZERO&single_nested.name=n&uuids=z", 200},
}

// gwCases is the table.
func gwCases() []gwCase {
	var cs []gwCase
	add := func(c ...gwCase) { cs = append(cs, c...) }
	created := func(name string, r request, status int) gwCase { return gwCase{name: name, request: r, status: status} }

	// ABitOfEverythingService.Create: a path variable of every scalar type.
	add(created("abe-create", post(abeCreatePath(-1, ""), ""), 200))
	add(created("abe-create-with-query", post(abeCreatePath(-1, "")+"?uuid=q&single_nested.name=n&repeated_string_value=a", ""), 200))
	for i, p := range abeCreateParams {
		for j, v := range abeCreateVariants[p.name] {
			add(created(fmt.Sprintf("abe-create-%s-%d", strings.ReplaceAll(strings.ToLower(p.name), "_", "-"), j),
				post(abeCreatePath(i, v.value), ""), v.status))
		}
	}
	add(created("abe-create-missing-segment", post(abe+"/1/2/3/separator/4", ""), 404))

	// CreateBody (body "*").
	add(created("abe-create-body", post(abe, abeBody), 200),
		created("abe-create-body-empty", post(abe, `{}`), 200),
		created("abe-create-body-proto-names", post(abe, `{"single_nested":{"name":"x"},"float_value":2,"repeated_string_value":["a"]}`), 200),
		created("abe-create-body-number-strings", post(abe, `{"floatValue":"1.5","int32Value":"7","uint64Value":1}`), 200),
		created("abe-create-body-special-floats", post(abe, `{"floatValue":"NaN","doubleValue":"-Infinity"}`), 200),
		created("abe-create-body-enum-number", post(abe, `{"enumValue":1,"repeatedEnumValue":[0,1]}`), 200),
		created("abe-create-body-null-fields", post(abe, `{"uuid":null,"singleNested":null,"nested":null,"mapValue":null}`), 200),
		created("abe-create-body-oneof-empty", post(abe, `{"oneofEmpty":{}}`), 200),
		created("abe-create-body-oneof-both", post(abe, `{"oneofEmpty":{},"oneofString":"x"}`), 400),
		created("abe-create-body-bad-type", post(abe, `{"int32Value":"x"}`), 400),
		created("abe-create-body-int32-overflow", post(abe, `{"int32Value":2147483648}`), 400),
		created("abe-create-body-bad-bytes", post(abe, `{"bytesValue":"***"}`), 400),
		created("abe-create-body-bad-timestamp", post(abe, `{"timestampValue":"2024-13-01T00:00:00Z"}`), 400),
		created("abe-create-body-unknown-field", post(abe, `{"uuid":"x","bogus":1}`), 200),
		created("abe-create-body-array", post(abe, `[1,2]`), 400),
		created("abe-create-body-with-query", post(abe+"?uuid=fromquery", `{"stringValue":"b"}`), 200),
		created("abe-create-body-query-ignored-for-body-field", post(abe+"?string_value=q", `{"stringValue":"b"}`), 200),
		created("abe-create-body-no-body", post(abe, ""), 200),
	)

	// UpdateEntity (put, {id.value}, body "*").
	add(created("abe-update-entity", req(http.MethodPut, abe+"/entity/e1", `{"otherField":"o"}`), 200),
		created("abe-update-entity-body-id", req(http.MethodPut, abe+"/entity/e1", `{"id":{"value":"other"},"otherField":"o"}`), 200),
		created("abe-update-entity-escaped", req(http.MethodPut, abe+"/entity/a%20b", `{}`), 200))

	// CreateBook / UpdateBook (resource names, field masks).
	add(created("abe-create-book", post("/v1/publishers/p1/books", `{"name":"publishers/p1/books/b1","id":"b1","createTime":"2024-01-01T00:00:00Z"}`), 200),
		created("abe-create-book-query-id", post("/v1/publishers/p1/books?book_id=b2", `{"id":"b2"}`), 200),
		created("abe-create-book-bad-parent", post("/v1/publishers/p1/x/books", `{}`), 404),
		created("abe-update-book", patch("/v1/publishers/p1/books/b1", `{"id":"b9"}`), 200),
		created("abe-update-book-mask-query", patch("/v1/publishers/p1/books/b1?update_mask=id", `{"id":"b9","createTime":"2024-01-01T00:00:00Z"}`), 200),
		created("abe-update-book-mask-query-json", patch("/v1/publishers/p1/books/b1?updateMask=id,create_time", `{"id":"b9"}`), 200),
		created("abe-update-book-allow-missing", patch("/v1/publishers/p1/books/b1?allow_missing=true", `{"id":"b9"}`), 200),
		created("abe-update-book-nested-mask", patch("/v1/publishers/p1/books/b1", `{"createTime":"2024-01-01T00:00:00Z","id":"x"}`), 200),
		gwCase{name: "abe-update-book-empty-body", request: patch("/v1/publishers/p1/books/b1", `{}`), status: 200},
		created("abe-update-book-no-body", patch("/v1/publishers/p1/books/b1", ""), 200),
	)

	// Lookup, Delete, Update, Exists, OPTIONS, TRACE on {uuid}.
	for i, id := range []string{"u1", "with%20space", "caf%C3%A9", "a:b", "%7Bx%7D"} {
		add(created(fmt.Sprintf("abe-lookup-%d", i), get(abe+"/"+id), 200),
			created(fmt.Sprintf("abe-delete-%d", i), del(abe+"/"+id), 200))
	}
	add(created("abe-lookup-query", get(abe+"/u1?uuid=other"), 200),
		created("abe-lookup-two-segments", get(abe+"/a/b"), 404),
		created("abe-lookup-escaped-slash", get(abe+"/a%2Fb"), 404),
		created("abe-update", req(http.MethodPut, abe+"/u1", abeBody), 200),
		created("abe-update-empty", req(http.MethodPut, abe+"/u1", `{}`), 200),
		created("abe-update-body-uuid-path-wins", req(http.MethodPut, abe+"/u1", `{"uuid":"body"}`), 200),
		created("abe-exists", req(http.MethodHead, abe+"/u1", ""), 200),
		created("abe-exists-query", req(http.MethodHead, abe+"/u1?string_value=s", ""), 200),
		created("abe-options", req(http.MethodOptions, abe+"/u1", ""), 200),
		created("abe-trace", req("TRACE", abe+"/u1?int32_value=5", ""), 200),
	)

	// Custom verbs, including one with a colon.
	add(created("abe-custom", post(abe+"/u1:custom", ""), 200),
		created("abe-custom-query", post(abe+"/u1:custom?string_value=q&enum_value=ONE", ""), 200),
		created("abe-custom-escaped", post(abe+"/a%20b:custom", ""), 200),
		created("abe-custom-get-binding", get(abe+"/custom/opt"), 200),
		created("abe-custom-get-binding-query", get(abe+"/custom/opt?uuid=x"), 200),
		created("abe-custom-unknown-verb", post(abe+"/u1:other", ""), 501),
		created("abe-double-colon", post(abe+"/u1:custom:custom", ""), 200),
		created("abe-double-colon-query", post(abe+"/u1:custom:custom?bool_value=true", ""), 200),
		created("abe-double-colon-escaped", post(abe+"/a%20b:custom:custom", ""), 200),
		created("abe-double-colon-wrong-method", get(abe+"/u1:custom:custom"), 200),
	)

	// UpdateV2: put/patch with body "abe" and patch with body "*".
	add(created("abe-update-v2-put", req(http.MethodPut, "/v2/example/a_bit_of_everything/u1", `{"stringValue":"s","int32Value":3}`), 200),
		created("abe-update-v2-put-mask", req(http.MethodPut, "/v2/example/a_bit_of_everything/u1?update_mask=string_value", `{"stringValue":"s"}`), 200),
		created("abe-update-v2-patch", patch("/v2/example/a_bit_of_everything/u1", `{"stringValue":"s","singleNested":{"name":"n"}}`), 200),
		created("abe-update-v2-patch-mask-query", patch("/v2/example/a_bit_of_everything/u1?update_mask=string_value,single_nested.name", `{"stringValue":"s"}`), 200),
		created("abe-update-v2-patch-map", patch("/v2/example/a_bit_of_everything/u1", `{"mappedStringValue":{"k":"v"}}`), 200),
		created("abe-update-v2-patch-repeated", patch("/v2/example/a_bit_of_everything/u1", `{"repeatedStringValue":["a"],"nested":[{"name":"x"}]}`), 200),
		gwCase{name: "abe-update-v2-patch-empty", request: patch("/v2/example/a_bit_of_everything/u1", `{}`), status: 200},
		created("abe-update-v2a-patch-star", patch("/v2a/example/a_bit_of_everything/u1", `{"abe":{"stringValue":"s"},"updateMask":"stringValue"}`), 200),
		created("abe-update-v2a-patch-star-no-mask", patch("/v2a/example/a_bit_of_everything/u1", `{"abe":{"stringValue":"s"}}`), 200),
		created("abe-update-v2a-patch-star-mask-list", patch("/v2a/example/a_bit_of_everything/u1", `{"abe":{"stringValue":"s"},"updateMask":"stringValue,singleNested.name"}`), 200),
	)

	// CreateNestedBodyOneof: body "payload.input_value".
	add(created("abe-nested-body-oneof", post(abe+"/nested_body_oneof", `"hello"`), 200),
		created("abe-nested-body-oneof-empty-string", post(abe+"/nested_body_oneof", `""`), 200),
		created("abe-nested-body-oneof-query", post(abe+"/nested_body_oneof?payload.name=n", `"hello"`), 200),
		created("abe-nested-body-oneof-not-string", post(abe+"/nested_body_oneof", `{"x":1}`), 400),
	)

	// GetQuery: query parameters of every kind.
	for _, q := range abeQueries {
		add(created("abe-query-"+q.name, get(abe+"/query/u1?"+q.query), q.status))
	}
	// CheckGetQueryParams / CheckNestedEnumGetQueryParams / CheckPostQueryParams.
	for _, q := range abeQueries[:24] {
		add(created("abe-params-get-"+q.name, get(abe+"/params/get/nn?"+q.query), q.status))
	}
	add(created("abe-params-get-path-beats-query", get(abe+"/params/get/nn?single_nested.name=q"), 200),
		created("abe-params-nested-enum", get(abe+"/params/get/nested_enum/TRUE"), 200),
		created("abe-params-nested-enum-number", get(abe+"/params/get/nested_enum/0"), 200),
		created("abe-params-nested-enum-bad", get(abe+"/params/get/nested_enum/MAYBE"), 400),
		created("abe-params-nested-enum-query", get(abe+"/params/get/nested_enum/TRUE?single_nested.name=x&string_value=s"), 200),
		created("abe-params-post", post(abe+"/params/post/sv", `{"name":"n","amount":4}`), 200),
		created("abe-params-post-query", post(abe+"/params/post/sv?uuid=u&int32_value=3", `{"name":"n"}`), 200),
		created("abe-params-post-query-body-field", post(abe+"/params/post/sv?single_nested.name=q", `{"amount":4}`), 200),
		created("abe-params-post-bad-body", post(abe+"/params/post/sv", `{"amount":"x"}`), 400),
	)

	// GetRepeatedQuery: repeated path variables, comma-separated.
	rp := func(vals ...string) string {
		return "/v1/example/a_bit_of_everything_repeated/" + strings.Join(vals, "/")
	}
	one := []string{"1.5", "2.5", "-3", "4", "-5", "6", "7", "true", "s", "AQID", "8", "ONE", "-9", "-10", "-11", "-12"}
	two := []string{"1.5,-1.5", "2.5,-2.5", "-3,3", "4,5", "-5,5", "6,7", "7,8", "true,false", "a,b", "AQID,BAUG", "8,9", "ONE,ZERO", "-9,9", "-10,10", "-11,11", "-12,12"}
	add(created("abe-repeated-path-one-each", get(rp(one...)), 200))
	add(created("abe-repeated-path-two-each", get(rp(two...)), 200))
	add(created("abe-repeated-path-floats", get(rp(append([]string{"1.5,-1.5,0"}, one[1:]...)...)), 200))
	add(created("abe-repeated-path-bad-int", get(rp(append(append([]string{}, one[:2]...), append([]string{"x"}, one[3:]...)...)...)), 400))
	add(created("abe-repeated-path-short", get(rp(one[:10]...)), 404))

	// Echo with additional bindings, body "value".
	add(created("abe-echo-path", get(abe+"/echo/hello"), 200),
		created("abe-echo-path-escaped", get(abe+"/echo/h%C3%A9llo%20w"), 200),
		created("abe-echo-post-body", post("/v2/example/echo", `"hello"`), 200),
		created("abe-echo-post-body-bad", post("/v2/example/echo", `42`), 400),
		created("abe-echo-get-query", get("/v2/example/echo?value=q"), 200),
		created("abe-echo-get-no-value", get("/v2/example/echo"), 500),
	)

	// DeepPathEcho.
	add(created("abe-deep-path", post("/v1/example/deep_path/dn", `{"uuid":"x"}`), 200),
		created("abe-deep-path-body-name", post("/v1/example/deep_path/dn", `{"singleNested":{"name":"body","amount":2}}`), 200),
		created("abe-deep-path-escaped", post("/v1/example/deep_path/a%2Fb", `{}`), 404))

	// Errors from the upstream: codes, details, UNAUTHENTICATED.
	for _, e := range []struct {
		code   string
		status int
	}{{"INVALID_ARGUMENT", 400}, {"NOT_FOUND", 404}, {"ALREADY_EXISTS", 409}, {"PERMISSION_DENIED", 403},
		{"RESOURCE_EXHAUSTED", 429}, {"FAILED_PRECONDITION", 400}, {"ABORTED", 409}, {"OUT_OF_RANGE", 400},
		{"UNIMPLEMENTED", 501}, {"INTERNAL", 500}, {"UNAVAILABLE", 503}, {"DATA_LOSS", 500},
		{"DEADLINE_EXCEEDED", 504}, {"CANCELLED", 499}, {"UNKNOWN", 500}} {
		add(created("abe-error-"+strings.ToLower(strings.ReplaceAll(e.code, "_", "-")),
			get("/v2/example/errorwithdetails", "Grpc-Metadata-X-Gw-Fail", e.code+":scripted "+e.code), e.status))
	}
	add(gwCase{name: "abe-error-unauthenticated", request: get("/v2/example/errorwithdetails", "Grpc-Metadata-X-Gw-Fail", "UNAUTHENTICATED:who are you"), status: 401},
		created("abe-error-on-post", post(abe, `{}`, "Grpc-Metadata-X-Gw-Fail", "INVALID_ARGUMENT:bad abe"), 400),
		created("abe-error-message-utf8", get("/v2/example/errorwithdetails", "Grpc-Metadata-X-Gw-Fail", "NOT_FOUND:caf\u00e9"), 200),
		created("abe-timeout", get("/v2/example/timeout"), 200),
		created("abe-timeout-grpc-timeout", get("/v2/example/timeout", "Grpc-Timeout", "10S"), 200),
		created("abe-timeout-fails", get("/v2/example/timeout", "Grpc-Metadata-X-Gw-Fail", "DEADLINE_EXCEEDED:too slow"), 504),
		created("abe-error-with-details-ok", get("/v2/example/errorwithdetails"), 200),
	)

	// Bodies on sub-fields and empty bodies.
	add(created("abe-with-body", post("/v2/example/withbody/i1", `{"name":"n"}`), 200),
		created("abe-with-body-empty", post("/v2/example/withbody/i1", `{}`), 200),
		created("abe-with-body-bad", post("/v2/example/withbody/i1", `{"name":1}`), 400),
		created("abe-post-with-empty-body", post("/v2/example/postwithemptybody/n1", `{}`), 200),
		created("abe-post-with-empty-body-none", post("/v2/example/postwithemptybody/n1", ""), 200),
		created("abe-post-with-empty-body-name", post("/v2/example/postwithemptybody/n1", `{"name":"other"}`), 200),
		created("abe-overwrite-request-content-type", post("/v2/example/overwriterequestcontenttype", `{"name":"n"}`), 200),
		created("abe-overwrite-response-content-type", get("/v2/example/overwriteresponsecontenttype"), 200),
		created("abe-check-status", get("/v1/example/checkStatus"), 200),
		created("abe-empty", get("/v2/example/empty"), 200),
		created("abe-empty-query-ignored", get("/v2/example/empty?x=1"), 200),
		created("abe-oneof-enum", post("/v1/example/oneofenum", `"EXAMPLE_ENUM_FIRST"`), 400),
		created("abe-oneof-enum-number", post("/v1/example/oneofenum", `1`), 200),
		created("abe-oneof-enum-bad", post("/v1/example/oneofenum", `"NOPE"`), 400),
		created("abe-required-message-type", post("/v1/example/requiredmessagetype", `{"id":"i","foo":{"bar":{"id":"b"}}}`), 200),
		created("abe-required-message-type-empty", post("/v1/example/requiredmessagetype", `{}`), 200),
	)

	// Path enums (package-external and nested), snake_case enums.
	add(created("abe-external-path-enum", get("/v2/DEF:check"), 200),
		created("abe-external-path-enum-number", get("/v2/1:check"), 200),
		created("abe-external-path-enum-bad", get("/v2/XYZ:check"), 400),
		created("abe-external-nested-path-enum", get("/v3/JKL:check"), 200),
		created("abe-external-nested-path-enum-bad", get("/v3/ABC:check"), 400),
		created("snake-enum", get("/v1/example/snake/value_f/value_d/value_y"), 200),
		created("snake-enum-zero", get("/v1/example/snake/value_e/value_c/value_x"), 200),
		created("snake-enum-numbers", get("/v1/example/snake/1/1/1"), 200),
		created("snake-enum-bad", get("/v1/example/snake/value_a/value_d/value_y"), 400),
	)

	// EchoService.
	const echo = "/v1/example/echo"
	add(created("echo-post-id", post(echo+"/e1", ""), 200),
		created("echo-post-id-query", post(echo+"/e1?num=5&lang=en&status.note=n&no.note=x&resource_id=r&n_id.n_id=ni", ""), 200),
		created("echo-post-id-oneof-both", post(echo+"/e1?line_num=1&lang=en", ""), 400),
		created("echo-get-id-num", get(echo+"/e1/42"), 200),
		created("echo-get-id-num-bad", get(echo+"/e1/x"), 400),
		created("echo-get-id-num-lang", get(echo+"/e1/42/fr"), 200),
		created("echo-get-echo1", get("/v1/example/echo1/e1/7/note"), 200),
		created("echo-get-echo1-query", get("/v1/example/echo1/e1/7/note?en=3&resource_id=r"), 200),
		created("echo-get-echo2", get("/v1/example/echo2/nn"), 200),
		created("echo-get-echo2-query-oneof", get("/v1/example/echo2/nn?en=3"), 400),
		created("echo-get-resource", get(echo+"/resource/r1"), 200),
		created("echo-get-nested", get(echo+"/nested/nid"), 200),
		created("echo-get-nested-query", get(echo+"/nested/nid?n_id.val=v"), 200),
		created("echo-body", post("/v1/example/echo_body", `{"id":"e","num":"3","lineNum":"4","status":{"note":"n"},"en":"5"}`), 200),
		created("echo-body-oneof", post("/v1/example/echo_body", `{"id":"e","lang":"en","no":{"note":"x"}}`), 200),
		created("echo-body-oneof-both", post("/v1/example/echo_body", `{"lang":"en","lineNum":1}`), 400),
		created("echo-body-put-no", req(http.MethodPut, "/v1/example/echo_body/e2", `{"note":"n"}`), 200),
		created("echo-body-put-no-query", req(http.MethodPut, "/v1/example/echo_body/e2?num=3&en=9", `{"note":"n"}`), 400),
		created("echo-body-put-no-query-ok", req(http.MethodPut, "/v1/example/echo_body/e2?num=3", `{"note":"n"}`), 200),
		created("echo-delete", del("/v1/example/echo_delete?id=d&num=1"), 200),
		created("echo-delete-no-query", del("/v1/example/echo_delete"), 200),
		created("echo-patch", patch("/v1/example/echo_patch", `{"structField":{"a":1,"b":[true,null]},"valueField":"v"}`), 200),
		created("echo-patch-struct-mask", patch("/v1/example/echo_patch", `{"structField":{"a":{"b":1}}}`), 200),
		created("echo-patch-mask-query", patch("/v1/example/echo_patch?update_mask=value_field", `{"valueField":1}`), 200),
		gwCase{name: "echo-patch-empty", request: patch("/v1/example/echo_patch", `{}`), status: 500},
		created("echo-unauthorized-ok", get("/v1/example/echo_unauthorized?id=x"), 200),
		gwCase{name: "echo-unauthorized", request: get("/v1/example/echo_unauthorized", "Grpc-Metadata-X-Gw-Fail", "UNAUTHENTICATED:login"), status: 401},
		created("echo-status", post("/v1/example/echo_status", `{"id":"s","subStatus":{"code":1,"message":"m"},"sub2Status":{"code":2}}`), 200),
		created("echo-status-error", post("/v1/example/echo_status", `{}`, "Grpc-Metadata-X-Gw-Fail", "FAILED_PRECONDITION:nope"), 400),
		created("echo-metadata-echo", post(echo+"/e1", "", "Grpc-Metadata-X-Gw-Echo", "hi"), 200),
		created("echo-trailers", post(echo+"/e1", "", "TE", "trailers"), 200),
	)

	// FlowCombination: every unary and streaming binding, by body, path and query.
	flow := []struct {
		name, path, body string
	}{
		{"rpc-empty-rpc", "/rpc/empty/rpc", ""},
		{"rpc-empty-stream", "/rpc/empty/stream", ""},
		{"stream-empty-rpc", "/stream/empty/rpc", `{}`},
		{"stream-empty-stream", "/stream/empty/stream", `{}`},
		{"rpc-body-rpc", "/rpc/body/rpc", `{"a":"x","b":"y","c":"z"}`},
		{"rpc-body-rpc-partial", "/rpc/body/rpc", `{"b":"y"}`},
		{"rpc-path-rpc", "/rpc/path/x/y/z/rpc", ""},
		{"rpc-query-rpc", "/rpc/query/rpc?a=x&b=y&c=z", ""},
		{"rpc-query-rpc-none", "/rpc/query/rpc", ""},
		{"rpc-body-path-rpc", "/rpc/body/path/x/y/rpc", `"z"`},
		{"rpc-body-query-rpc", "/rpc/body/query/rpc?a=x&b=y", `"z"`},
		{"rpc-body-path-query-rpc", "/rpc/body/path/x/query/rpc?b=y", `"z"`},
		{"rpc-path-query-rpc", "/rpc/path/x/query/rpc?b=y&c=z", ""},
		{"rpc-path-single-nested-rpc", "/rpc/path-nested/x/rpc", ""},
		{"rpc-path-nested-rpc", "/rpc/path-nested/x/y/rpc", `"z"`},
		{"rpc-path-nested1-rpc", "/rpc/path-nested1/x/rpc?b=y&c=z", ""},
		{"rpc-path-nested2-rpc", "/rpc/path-nested2/x/rpc?b=y", `"z"`},
		{"rpc-body-stream", "/rpc/body/stream", `{"a":"x","b":"y","c":"z"}`},
		{"rpc-path-stream", "/rpc/path/x/y/z/stream", ""},
		{"rpc-query-stream", "/rpc/query/stream?a=x&b=y&c=z", ""},
		{"rpc-body-path-stream", "/rpc/body/path/x/y/stream", `"z"`},
		{"rpc-body-query-stream", "/rpc/body/query/stream?a=x&b=y", `"z"`},
		{"rpc-body-path-query-stream", "/rpc/body/path/x/query/stream?b=y", `"z"`},
		{"rpc-path-query-stream", "/rpc/path/x/query/stream?b=y&c=z", ""},
		{"rpc-path-single-nested-stream", "/rpc/path-nested/x/stream", ""},
		{"rpc-path-nested-stream", "/rpc/path-nested/x/y/stream", `"z"`},
		{"rpc-path-nested1-stream", "/rpc/path-nested1/x/stream?b=y&c=z", ""},
		{"rpc-path-nested2-stream", "/rpc/path-nested2/x/stream?b=y", `"z"`},
	}
	for _, f := range flow {
		add(created("flow-"+f.name, post(f.path, f.body), 200))
	}
	add(created("flow-rpc-path-rpc-escaped", post("/rpc/path/a%20b/c/%C3%A9/rpc", ""), 200),
		created("flow-rpc-path-rpc-escaped-slash", post("/rpc/path/a/c%2Fd/e/rpc", ""), 404),
		created("flow-rpc-body-rpc-bad", post("/rpc/body/rpc", `{"a":1}`), 400),
		created("flow-rpc-body-path-rpc-bad", post("/rpc/body/path/x/y/rpc", `{"c":"z"}`), 400),
		created("flow-rpc-empty-stream-count-0", post("/rpc/empty/stream", "", "Grpc-Metadata-X-Gw-Count", "0"), 200),
		created("flow-rpc-body-stream-fails-at-once", post("/rpc/body/stream", `{}`, "Grpc-Metadata-X-Gw-Fail", "PERMISSION_DENIED:no"), 403),
		created("flow-rpc-body-stream-fails-after-two", post("/rpc/body/stream", `{}`, "Grpc-Metadata-X-Gw-Fail", "DATA_LOSS:torn", "Grpc-Metadata-X-Gw-Fail-After", "2"), 200),
		created("flow-stream-empty-rpc-two", post("/stream/empty/rpc", `{}`+"\n"+`{}`), 200),
		created("flow-stream-empty-stream-three", post("/stream/empty/stream", `{} {} {}`), 200),
		created("flow-stream-empty-rpc-fails", post("/stream/empty/rpc", `{}`, "Grpc-Metadata-X-Gw-Fail", "ABORTED:conflict"), 409),
	)

	// ResponseBodyService: response_body selections.
	for _, d := range []string{"d1", "with%20space"} {
		add(created("response-body-"+d, get("/responsebody/"+d), 200),
			created("response-bodies-"+d, get("/responsebodies/"+d), 200),
			created("response-strings-"+d, get("/responsestrings/"+d), 200),
			created("response-body-same-name-"+d, get("/responsebody/samename/"+d), 200),
			created("response-body-imported-"+d, get("/responsebody/importedtype/"+d), 200),
			created("response-body-stream-"+d, get("/responsebody/stream/"+d), 200))
	}
	add(created("response-body-error", get("/responsebody/d1", "Grpc-Metadata-X-Gw-Fail", "NOT_FOUND:gone"), 404),
		created("response-body-stream-fails-after-one", get("/responsebody/stream/d1", "Grpc-Metadata-X-Gw-Fail", "INTERNAL:oops", "Grpc-Metadata-X-Gw-Fail-After", "1"), 200))

	// StreamService: client, server, bidi and HttpBody streams.
	add(created("stream-bulk-create", post(abe+"/bulk", `{"uuid":"a"} {"uuid":"b","int32Value":3}`), 200),
		created("stream-bulk-create-one", post(abe+"/bulk", `{"uuid":"a"}`), 200),
		created("stream-bulk-create-empty-body", post(abe+"/bulk", ""), 200),
		gwCase{name: "stream-bulk-create-bad", request: post(abe+"/bulk", `{"uuid":1}`), status: 400,
			racyUpstream: "grpc-gateway opens the client stream before it decodes the body and cancels it on the error"},
		created("stream-list", get(abe), 200),
		created("stream-list-query", get(abe+"?error=true"), 200),
		created("stream-list-count-1", get(abe, "Grpc-Metadata-X-Gw-Count", "1"), 200),
		created("stream-list-fails-at-once", get(abe, "Grpc-Metadata-X-Gw-Fail", "UNAVAILABLE:down"), 503),
		created("stream-list-fails-after-one", get(abe, "Grpc-Metadata-X-Gw-Fail", "INTERNAL:mid", "Grpc-Metadata-X-Gw-Fail-After", "1"), 200),
		created("stream-bulk-echo", post(abe+"/echo", `{"value":"a"} {"value":"b"}`), 200),
		created("stream-bulk-echo-fails-after-one", post(abe+"/echo", `{"value":"a"} {"value":"b"}`, "Grpc-Metadata-X-Gw-Fail", "ABORTED:x", "Grpc-Metadata-X-Gw-Fail-After", "1"), 200),
		created("stream-bulk-echo-duration", post(abe+"/echo_duration", `"1.5s" "-3s"`), 200),
		gwCase{name: "stream-bulk-echo-duration-bad", request: post(abe+"/echo_duration", `"forever"`), status: 200,
			racyUpstream: "grpc-gateway opens the stream before it decodes the body and cancels it on the error"},
		created("stream-download", get("/v1/example/download"), 200),
		created("stream-download-one", get("/v1/example/download", "Grpc-Metadata-X-Gw-Count", "1"), 200),
		created("stream-download-fails-at-once", get("/v1/example/download", "Grpc-Metadata-X-Gw-Fail", "NOT_FOUND:no file"), 404),
	)

	// WrappersService: wrappers in a message and as whole bodies.
	add(created("wrappers-all", post("/v1/example/wrappers", `{"stringValue":"s","int32Value":1,"int64Value":"2","floatValue":1.5,"doubleValue":2.5,"boolValue":true,"uint32Value":3,"uint64Value":"4","bytesValue":"AQ=="}`), 200),
		created("wrappers-zero", post("/v1/example/wrappers", `{"stringValue":"","int32Value":0,"boolValue":false}`), 200),
		created("wrappers-null", post("/v1/example/wrappers", `{"stringValue":null,"int32Value":null}`), 200),
		created("wrappers-strings-for-numbers", post("/v1/example/wrappers", `{"int32Value":"5","floatValue":"NaN"}`), 200),
		created("wrappers-bad", post("/v1/example/wrappers", `{"int32Value":{"value":1}}`), 400),
		created("wrappers-empty", post("/v1/example/wrappers", `{}`), 200),
	)
	for _, w := range []struct {
		name, path, body string
		status           int
	}{
		{"string", "/v1/testString", `"hello"`, 200}, {"string-empty", "/v1/testString", `""`, 200}, {"string-bad", "/v1/testString", `1`, 400},
		{"int32", "/v1/testInt32", `-5`, 200}, {"int32-string", "/v1/testInt32", `"7"`, 200}, {"int32-bad", "/v1/testInt32", `2147483648`, 400},
		{"int64", "/v1/testInt64", `"-9223372036854775808"`, 200}, {"int64-number", "/v1/testInt64", `12`, 200},
		{"float", "/v1/testFloat", `1.5`, 200}, {"float-nan", "/v1/testFloat", `"NaN"`, 200},
		{"double", "/v1/testDouble", `-2.5e-10`, 200}, {"double-inf", "/v1/testDouble", `"Infinity"`, 200},
		{"bool", "/v1/testBool", `true`, 200}, {"bool-false", "/v1/testBool", `false`, 200}, {"bool-bad", "/v1/testBool", `"true"`, 400},
		{"uint32", "/v1/testUint32", `4294967295`, 200}, {"uint32-negative", "/v1/testUint32", `-1`, 400},
		{"uint64", "/v1/testUint64", `"18446744073709551615"`, 200},
		{"bytes", "/v1/testBytes", `"AQID"`, 200}, {"bytes-url", "/v1/testBytes", `"-_8"`, 200}, {"bytes-bad", "/v1/testBytes", `"*"`, 400},
		{"test-empty", "/v1/testEmpty", `{}`, 200}, {"test-empty-no-body", "/v1/testEmpty", ``, 200}, {"test-empty-unknown-field", "/v1/testEmpty", `{"x":1}`, 200},
	} {
		add(created("wrappers-"+w.name, post(w.path, w.body), w.status))
	}

	// NonStandardService: PATCH with field masks and unusual field names.
	const ns = "/v1/example/non_standard/update"
	add(created("non-standard-update", patch(ns, `{"id":"i","Num":"1","line_num":"2","langIdent":"en","STATUS":"s","en_GB":"3","no":"n","thing":{"subThing":{"sub_value":"v"}}}`), 200),
		created("non-standard-update-mask-query", patch(ns+"?update_mask=Num,STATUS", `{"Num":"1","STATUS":"s"}`), 200),
		created("non-standard-update-nested-mask", patch(ns, `{"thing":{"subThing":{"sub_value":"v"}}}`), 200),
		created("non-standard-update-proto-names", patch(ns, `{"Num":"5","lang_ident":"x","en_GB":"1"}`), 400),
		created("non-standard-update-json-names", patch(ns+"_with_json_names", `{"ID":"i","Num":"1","LineNum":"2","langIdent":"en","status":"s","En_GB":"3","yes":"n","Thingy":{"SubThing":{"sub_Value":"v"}}}`), 200),
		created("non-standard-update-json-names-mask", patch(ns+"_with_json_names?update_mask=Num", `{"Num":"9"}`), 200),
		created("non-standard-update-json-names-proto-names", patch(ns+"_with_json_names", `{"id":"i","line_num":"2","thing":{"subThing":{"sub_value":"v"}}}`), 200),
		created("non-standard-update-bad", patch(ns, `{"Num":"x"}`), 400),
	)

	// Routing misses and methods.
	add(created("miss-unknown-path", get("/v1/example/nothing"), 404),
		created("miss-wrong-method-wrappers", get("/v1/example/wrappers"), 501),
		created("miss-patch-echo", patch("/v1/example/echo/e1", `{}`), 501),
		created("miss-trailing-slash", get(abe+"/echo/x/"), 404),
	)
	for i := range cs {
		cs[i].diff = gwDiffs[cs[i].name]
		cs[i].pending = gwPending[cs[i].name]
	}
	return cs
}

// Deliberate differences, each listed in docs/rest-differences.md.
var (
	noRoute = &expectDiff{status: 404, code: codes.NotFound,
		why: "sluice names the method and path it could not route; grpc-gateway says only Not Found."}
	notAllowed = &expectDiff{status: 405, code: codes.Unimplemented,
		why: "the path exists with other methods: HTTP says 405 with Allow; grpc-gateway answers 501 without Allow."}
	escapedSlash = &expectDiff{status: 200, code: codes.OK,
		why: "a single-segment variable decodes %2F into data, as google.api.http says; grpc-gateway decodes the path before matching, so no route matches."}
	protojsonWording = &expectDiff{status: 400, code: codes.InvalidArgument,
		why: "sluice decodes bodies with protojson: errors carry protojson's wording."}
	gwDiffs = map[string]*expectDiff{
		"abe-create-string-value-3":        noRoute,
		"abe-create-missing-segment":       noRoute,
		"abe-create-book-bad-parent":       noRoute,
		"abe-lookup-two-segments":          noRoute,
		"abe-repeated-path-short":          noRoute,
		"miss-unknown-path":                noRoute,
		"miss-trailing-slash":              noRoute,
		"abe-custom-unknown-verb":          notAllowed,
		"miss-wrong-method-wrappers":       notAllowed,
		"miss-patch-echo":                  notAllowed,
		"abe-create-string-value-2":        escapedSlash,
		"abe-lookup-escaped-slash":         escapedSlash,
		"abe-deep-path-escaped":            escapedSlash,
		"flow-rpc-path-rpc-escaped-slash":  escapedSlash,
		"abe-echo-post-body-bad":           protojsonWording,
		"flow-rpc-body-path-rpc-bad":       protojsonWording,
		"abe-nested-body-oneof-not-string": protojsonWording,
		"abe-oneof-enum": {status: 200, code: codes.OK,
			why: "a body field of enum type takes the enum's JSON form, name or number, as protojson does; grpc-gateway's decoder of non-message body fields refuses names."},
		"abe-oneof-enum-bad": {status: 200, code: codes.OK,
			why: "an unknown enum name in a body is discarded as unknown fields are (as in the demo's create-book-unknown-enum-name-discarded); grpc-gateway refuses every name."},
		"abe-update-book-empty-body": {status: 200, code: codes.OK,
			why: "a PATCH body that sets no field names no field to update: the update mask is empty; grpc-gateway sends one empty path."},
		"abe-update-v2-patch-empty": {status: 200, code: codes.OK,
			why: "as abe-update-book-empty-body."},
		"echo-patch-empty": {status: 200, code: codes.OK,
			why: "as abe-update-book-empty-body; grpc-gateway's mask with one empty path, echoed by the upstream, cannot be written as JSON, so grpc-gateway answers 500."},
		"abe-echo-get-no-value": {status: 400, code: codes.InvalidArgument,
			why: "a proto2 required field left unset is the client's error, found before the upstream is called; grpc-gateway fails to encode the request and answers 500."},
		"stream-download": {status: 200, code: codes.OK,
			why: "a server stream of google.api.HttpBody is the chunks' bytes and nothing else; grpc-gateway writes a newline after each chunk, which corrupts a binary download."},
		"stream-download-one": {status: 200, code: codes.OK,
			why: "as stream-download."},
		"flow-rpc-empty-stream-count-0": {status: 200, code: codes.OK, header: map[string]string{"Content-Type": "application/json"},
			why: "a server stream that ends without a message still says what its body is, so a client picks its parser from Content-Type whatever the count; grpc-gateway sets it at the first message."},
		"stream-bulk-echo-duration-bad": {status: 400, code: codes.InvalidArgument,
			why: "a request message that does not decode fails the call with INVALID_ARGUMENT; grpc-gateway logs it and half-closes the request stream as if the body had ended there, so the upstream sees fewer messages and the client a success."},
	}
)

// fastOnly starts the reason of a pending mark that holds for the fast
// codecs only; with protojson only the case must agree.
const fastOnly = "fast codecs only: "

// Known sluice bugs being fixed; none at the moment. A case marked here
// must still differ, so the mark goes with the fix.
var gwPending = map[string]string{}
