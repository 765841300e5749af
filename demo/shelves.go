package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ListShelves implements LibraryService.ListShelves.
func (l *Library) ListShelves(_ context.Context, req *libraryv1.ListShelvesRequest) (*libraryv1.ListShelvesResponse, error) {
	var v violations
	q := pageQuery{collection: "shelves"}
	size := pageSize("page_size", req.GetPageSize(), &v)
	after := decodePageToken("page_token", req.GetPageToken(), q, &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	l.mu.RLock()
	defer l.mu.RUnlock()
	names, next := page(l.sortedShelfNames(), after, size, q)
	resp := &libraryv1.ListShelvesResponse{NextPageToken: next}
	for _, name := range names {
		resp.Shelves = append(resp.Shelves, l.shelves[name[len("shelves/"):]].view())
	}
	return resp, nil
}

// GetShelf implements LibraryService.GetShelf.
func (l *Library) GetShelf(_ context.Context, req *libraryv1.GetShelfRequest) (*libraryv1.GetShelfResponse, error) {
	var v violations
	id, _ := parseShelfName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.shelves[id]
	if !ok {
		return nil, notFound(resourceShelf, req.GetName())
	}
	return &libraryv1.GetShelfResponse{Shelf: r.view()}, nil
}

// CreateShelf implements LibraryService.CreateShelf.
func (l *Library) CreateShelf(_ context.Context, req *libraryv1.CreateShelfRequest) (*libraryv1.CreateShelfResponse, error) {
	var v violations
	if req.GetShelf() == nil {
		v.add("shelf", "is required")
	} else {
		validateShelf("shelf.", req.GetShelf(), &v)
	}
	checkID("shelf_id", req.GetShelfId(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	id := req.GetShelfId()
	if id == "" {
		id = l.newShelfID()
	} else if _, exists := l.shelves[id]; exists {
		return nil, alreadyExists(resourceShelf, shelfName(id))
	}
	now := timestamppb.New(l.cfg.now())
	in := req.GetShelf()
	r := &shelfRecord{
		shelf: &libraryv1.Shelf{
			Name:        shelfName(id),
			DisplayName: in.GetDisplayName(),
			Description: in.GetDescription(),
			Labels:      maps.Clone(in.GetLabels()),
			CreateTime:  now,
			UpdateTime:  proto.CloneOf(now),
		},
		books: make(map[string]*bookRecord),
		files: make(map[string]*libraryv1.ShelfFile),
		subs:  make(map[*subscriber]struct{}),
	}
	l.shelves[id] = r
	return &libraryv1.CreateShelfResponse{Shelf: r.view()}, nil
}

// DeleteShelf implements LibraryService.DeleteShelf. Watchers of the shelf
// get a deletion event for each of its books, then their streams end.
func (l *Library) DeleteShelf(_ context.Context, req *libraryv1.DeleteShelfRequest) (*libraryv1.DeleteShelfResponse, error) {
	var v violations
	id, _ := parseShelfName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.shelves[id]
	if !ok {
		return nil, notFound(resourceShelf, req.GetName())
	}
	if len(r.books) > 0 && !req.GetForce() {
		return nil, failedPrecondition(ReasonShelfNotEmpty, req.GetName(),
			fmt.Sprintf("shelf %q holds %d books; delete them first or set force", req.GetName(), len(r.books)))
	}
	for _, bookID := range slices.Sorted(maps.Keys(r.books)) {
		l.publish(r, libraryv1.WatchShelfResponse_CHANGE_TYPE_DELETED, r.books[bookID].book)
	}
	r.closeSubscribers()
	delete(l.shelves, id)
	return &libraryv1.DeleteShelfResponse{}, nil
}

// GetShelfFile implements LibraryService.GetShelfFile.
func (l *Library) GetShelfFile(_ context.Context, req *libraryv1.GetShelfFileRequest) (*libraryv1.GetShelfFileResponse, error) {
	var v violations
	id, path, _ := parseFileName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.shelves[id]
	if !ok {
		return nil, notFound(resourceShelf, shelfName(id))
	}
	f, ok := r.files[path]
	if !ok {
		return nil, notFound(resourceShelfFile, req.GetName())
	}
	return &libraryv1.GetShelfFileResponse{File: proto.CloneOf(f)}, nil
}

// newShelfID returns an unused server-chosen id. l.mu must be held.
func (l *Library) newShelfID() string {
	for {
		l.nextShelf++
		id := "shelf-" + strconv.Itoa(l.nextShelf)
		if _, taken := l.shelves[id]; !taken {
			return id
		}
	}
}
