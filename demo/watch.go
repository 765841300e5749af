package demo

import (
	"fmt"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// subscriber is one WatchShelf call. Writers hand it events without ever
// blocking; when its buffer is full it is dropped (see the package doc).
type subscriber struct {
	events chan *libraryv1.WatchShelfResponse
	// err is why events was closed (nil: the shelf was deleted). It is
	// written before close(events), so a receiver that saw the close reads
	// it safely.
	err error
}

// publish sends a change to every watcher of r. l.mu must be held for
// writing; the event holds a copy of book.
func (l *Library) publish(r *shelfRecord, ct libraryv1.WatchShelfResponse_ChangeType, book *libraryv1.Book) {
	if len(r.subs) == 0 {
		return
	}
	ev := &libraryv1.WatchShelfResponse{
		ChangeType: ct,
		Book:       proto.CloneOf(book),
		ChangeTime: timestamppb.New(l.cfg.now()),
	}
	// Every subscriber gets the same event: it is never modified again.
	for s := range r.subs {
		select {
		case s.events <- ev:
		default:
			s.err = statusError(codes.ResourceExhausted,
				fmt.Sprintf("watch of %s fell more than %d events behind; read the shelf again and re-watch", r.shelf.GetName(), cap(s.events)),
				errorInfo(ReasonWatchBufferOverflow, map[string]string{"resource_name": r.shelf.GetName()}),
			)
			close(s.events)
			delete(r.subs, s)
		}
	}
}

func errShuttingDown() error {
	return statusError(codes.Unavailable, "the demo library is shutting down; watch again elsewhere")
}

// closeSubscribers ends every watch of r with OK. l.mu must be held for
// writing.
func (r *shelfRecord) closeSubscribers() {
	for s := range r.subs {
		close(s.events)
		delete(r.subs, s)
	}
}

// WatchShelf implements LibraryService.WatchShelf. It runs in the calling
// goroutine only and unsubscribes when it returns, so a cancelled call
// leaves nothing behind.
func (l *Library) WatchShelf(req *libraryv1.WatchShelfRequest, stream grpc.ServerStreamingServer[libraryv1.WatchShelfResponse]) error {
	var v violations
	id, _ := parseShelfName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return err
	}
	sub := &subscriber{events: make(chan *libraryv1.WatchShelfResponse, l.cfg.watchBuffer)}
	l.mu.Lock()
	closed := l.closed
	r, ok := l.shelves[id]
	if ok && !closed {
		r.subs[sub] = struct{}{}
	}
	l.mu.Unlock()
	if closed {
		return errShuttingDown()
	}
	if !ok {
		return notFound(resourceShelf, req.GetName())
	}
	defer func() {
		l.mu.Lock()
		delete(r.subs, sub)
		l.mu.Unlock()
	}()

	// The header tells the client the watch is registered.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return contextError(ctx)
		case ev, open := <-sub.events:
			if !open {
				return sub.err
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}
