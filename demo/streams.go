package demo

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxImportFailures bounds the failures listed in an import summary, so the
// summary stays small whatever the client streams.
const maxImportFailures = 100

// ExportBooks implements LibraryService.ExportBooks. It sends a snapshot
// taken when the call starts.
func (l *Library) ExportBooks(req *libraryv1.ExportBooksRequest, stream grpc.ServerStreamingServer[libraryv1.ExportBooksResponse]) error {
	var v violations
	id, _ := parseShelfName("parent", req.GetParent(), &v)
	if err := v.err(); err != nil {
		return err
	}
	l.mu.RLock()
	r, ok := l.shelves[id]
	var books []*libraryv1.Book
	if ok {
		for _, bookID := range slices.Sorted(maps.Keys(r.books)) {
			books = append(books, proto.CloneOf(r.books[bookID].book))
		}
	}
	l.mu.RUnlock()
	if !ok {
		return notFound(resourceShelf, req.GetParent())
	}
	for _, b := range books {
		if err := stream.Send(&libraryv1.ExportBooksResponse{Book: b}); err != nil {
			return err
		}
	}
	return nil
}

// ImportBooks implements LibraryService.ImportBooks. A bad parent in the
// first message ends the call; a bad book is listed in the summary.
func (l *Library) ImportBooks(stream grpc.ClientStreamingServer[libraryv1.ImportBooksRequest, libraryv1.ImportBooksResponse]) error {
	summary := &libraryv1.ImportBooksResponse{}
	parent, shelfID := "", ""
	for index := int32(0); ; index++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(summary)
		}
		if err != nil {
			return err
		}
		if index == 0 {
			var v violations
			shelfID, _ = parseShelfName("parent", req.GetParent(), &v)
			if err := v.err(); err != nil {
				return err
			}
			parent = req.GetParent()
		}
		b, err := l.importOne(req, parent, shelfID)
		if err != nil {
			summary.FailedCount++
			if len(summary.Failures) < maxImportFailures {
				summary.Failures = append(summary.Failures, &libraryv1.ImportBooksResponse_Failure{
					Index:  index,
					Status: status.Convert(err).Proto(),
				})
			}
			continue
		}
		summary.ImportedCount++
		summary.BookNames = append(summary.BookNames, b.GetName())
	}
}

// importOne validates and creates one imported book, failing as CreateBook
// would.
func (l *Library) importOne(req *libraryv1.ImportBooksRequest, parent, shelfID string) (*libraryv1.Book, error) {
	var v violations
	if p := req.GetParent(); p != "" && p != parent {
		v.add("parent", "must be empty or %q as in the first message, got %q", parent, p)
	}
	checkNewBook(req.GetBook(), req.GetBookId(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.createBook(shelfID, req.GetBookId(), req.GetBook())
}

// DiscussBook implements LibraryService.DiscussBook: the librarian answers
// each message right after it arrives.
func (l *Library) DiscussBook(stream grpc.BidiStreamingServer[libraryv1.DiscussBookRequest, libraryv1.DiscussBookResponse]) error {
	name, title := "", ""
	for seq := int64(1); ; seq++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var v violations
		if seq == 1 {
			shelfID, bookID, ok := parseBookName("name", req.GetName(), &v)
			if ok {
				l.mu.RLock()
				_, rec, err := l.findBook(shelfID, bookID)
				if err == nil {
					title = rec.book.GetTitle()
				}
				l.mu.RUnlock()
				if err != nil {
					return err
				}
			}
			name = req.GetName()
		} else if n := req.GetName(); n != "" && n != name {
			v.add("name", "must be empty or %q as in the first message, got %q", name, n)
		}
		if req.GetText() == "" {
			v.add("text", "is required")
		}
		if err := v.err(); err != nil {
			return err
		}
		if req.GetText() == "fail" {
			return statusError(codes.Aborted, "the librarian left the discussion (the message was \"fail\")",
				errorInfo(ReasonDiscussionAborted, map[string]string{"resource_name": name}))
		}
		speaker := req.GetSpeaker()
		if speaker == "" {
			speaker = "reader"
		}
		err = stream.Send(&libraryv1.DiscussBookResponse{
			Name:     name,
			Speaker:  "librarian",
			Text:     fmt.Sprintf("%s on %q: %s", speaker, title, req.GetText()),
			Sequence: seq,
			SendTime: timestamppb.New(l.cfg.now()),
		})
		if err != nil {
			return err
		}
	}
}
