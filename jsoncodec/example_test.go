package jsoncodec_test

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
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

	enc := jsoncodec.NewEncoder(jsoncodec.MarshalOptions{UseProtoNames: true})
	out, err := enc.AppendMessage(nil, data, md)
	if errors.Is(err, jsoncodec.ErrFallback) {
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

func ExampleNewDecoder() {
	dec := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: true})
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	body := []byte(`{"title": "Dune", "pageCount": "412", "genre": "GENRE_SCIENCE_FICTION", "readingTime": "3600s"}`)

	wire, err := dec.AppendMessage(nil, body, md)
	if errors.Is(err, jsoncodec.ErrFallback) {
		// Not for the fast path: protojson decodes it, or says what is wrong.
		book := new(libraryv1.Book)
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, book); err != nil {
			fmt.Println("invalid body:", err)
			return
		}
		wire, _ = proto.Marshal(book)
	}

	var book libraryv1.Book
	if err := proto.Unmarshal(wire, &book); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(book.GetTitle(), book.GetPageCount(), book.GetGenre(), book.GetReadingTime().AsDuration())
	// Output: Dune 412 GENRE_SCIENCE_FICTION 1h0m0s
}
