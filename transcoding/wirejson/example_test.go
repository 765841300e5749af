package wirejson_test

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding/wirejson"
)

func ExampleNewEncoder() {
	// Wire bytes as an upstream sends them.
	data, _ := proto.Marshal(&libraryv1.Book{
		Name:       "shelves/classics/books/moby-dick",
		Genre:      libraryv1.Genre_GENRE_FICTION,
		Rating:     wrapperspb.Int32(5),
		CopiesSold: 1000,
		CreateTime: &timestamppb.Timestamp{Seconds: 1700000000},
	})
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()

	enc := wirejson.NewEncoder(wirejson.Options{UseProtoNames: true})
	out, err := enc.AppendMessage(nil, data, md)
	if errors.Is(err, wirejson.ErrFallback) {
		// Not handled here: take the protojson path.
		m := &libraryv1.Book{}
		if err = proto.Unmarshal(data, m); err == nil {
			out, err = protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"name":"shelves/classics/books/moby-dick","genre":"GENRE_FICTION","rating":5,"copies_sold":"1000","create_time":"2023-11-14T22:13:20Z"}
}
