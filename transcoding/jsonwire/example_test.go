package jsonwire_test

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding/jsonwire"
)

func ExampleNewDecoder() {
	dec := jsonwire.NewDecoder(jsonwire.Options{DiscardUnknown: true})
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	body := []byte(`{"title": "Dune", "pageCount": "412", "genre": "GENRE_SCIENCE_FICTION", "readingTime": "3600s"}`)

	wire, err := dec.AppendMessage(nil, body, md)
	if errors.Is(err, jsonwire.ErrFallback) {
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
