package demo

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const defaultContentType = "application/octet-stream"

// bookFieldKind tells what UpdateBook may do with a top-level Book field.
func bookFieldKind(name string) (mutable bool, why string) {
	switch name {
	case "title", "author", "genre", "rating", "page_count", "copies_sold",
		"reading_time", "labels", "metadata", "cover_image", "chapters":
		return true, ""
	case "name":
		return false, "is the identifier and cannot be updated"
	case "content_size_bytes", "publish_time", "create_time", "update_time":
		return false, "is output only"
	default:
		return false, "is not a field of Book"
	}
}

// ListBooks implements LibraryService.ListBooks.
func (l *Library) ListBooks(_ context.Context, req *libraryv1.ListBooksRequest) (*libraryv1.ListBooksResponse, error) {
	var v violations
	shelfID := ""
	if req.GetParent() != "" {
		shelfID, _ = parseShelfName("parent", req.GetParent(), &v)
	}
	if _, ok := libraryv1.Genre_name[int32(req.GetGenre())]; !ok {
		v.add("genre", "unknown genre %d", req.GetGenre())
	}
	q := pageQuery{collection: "books:" + req.GetParent(), filter: strconv.Itoa(int(req.GetGenre()))}
	size := pageSize("page_size", req.GetPageSize(), &v)
	after := decodePageToken("page_token", req.GetPageToken(), q, &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	l.mu.RLock()
	defer l.mu.RUnlock()
	var shelves []*shelfRecord
	if shelfID != "" {
		r, ok := l.shelves[shelfID]
		if !ok {
			return nil, notFound(resourceShelf, req.GetParent())
		}
		shelves = []*shelfRecord{r}
	} else {
		shelves = slices.Collect(maps.Values(l.shelves))
	}
	byName := make(map[string]*libraryv1.Book)
	for _, r := range shelves {
		for _, b := range r.books {
			if req.GetGenre() == libraryv1.Genre_GENRE_UNSPECIFIED || b.book.GetGenre() == req.GetGenre() {
				byName[b.book.GetName()] = b.book
			}
		}
	}
	names, next := page(slices.Sorted(maps.Keys(byName)), after, size, q)
	resp := &libraryv1.ListBooksResponse{NextPageToken: next}
	for _, name := range names {
		resp.Books = append(resp.Books, proto.CloneOf(byName[name]))
	}
	return resp, nil
}

// GetBook implements LibraryService.GetBook.
func (l *Library) GetBook(_ context.Context, req *libraryv1.GetBookRequest) (*libraryv1.GetBookResponse, error) {
	var v violations
	shelfID, bookID, _ := parseBookName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, b, err := l.findBook(shelfID, bookID)
	if err != nil {
		return nil, err
	}
	return &libraryv1.GetBookResponse{Book: proto.CloneOf(b.book)}, nil
}

// CreateBook implements LibraryService.CreateBook.
func (l *Library) CreateBook(_ context.Context, req *libraryv1.CreateBookRequest) (*libraryv1.CreateBookResponse, error) {
	var v violations
	shelfID, _ := parseShelfName("parent", req.GetParent(), &v)
	checkNewBook(req.GetBook(), req.GetBookId(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := l.createBook(shelfID, req.GetBookId(), req.GetBook())
	if err != nil {
		return nil, err
	}
	return &libraryv1.CreateBookResponse{Book: b}, nil
}

// checkNewBook validates the input of CreateBook and ImportBooks.
func checkNewBook(b *libraryv1.Book, bookID string, v *violations) {
	if b == nil {
		v.add("book", "is required")
	} else {
		validateBook("book.", b, v)
	}
	checkID("book_id", bookID, v)
}

// createBook stores a validated new book and tells the watchers. l.mu must
// be held for writing.
func (l *Library) createBook(shelfID, bookID string, in *libraryv1.Book) (*libraryv1.Book, error) {
	r, ok := l.shelves[shelfID]
	if !ok {
		return nil, notFound(resourceShelf, shelfName(shelfID))
	}
	if bookID == "" {
		bookID = l.newBookID(r)
	} else if _, exists := r.books[bookID]; exists {
		return nil, alreadyExists(resourceBook, bookName(shelfID, bookID))
	}
	b := &libraryv1.Book{}
	copyBookFields(b, in, mutableBookFieldsSet(in))
	b.Name = bookName(shelfID, bookID)
	now := timestamppb.New(l.cfg.now())
	b.CreateTime = now
	b.UpdateTime = proto.CloneOf(now)
	r.books[bookID] = &bookRecord{book: b}
	l.publish(r, libraryv1.WatchShelfResponse_CHANGE_TYPE_CREATED, b)
	return proto.CloneOf(b), nil
}

// UpdateBook implements LibraryService.UpdateBook.
func (l *Library) UpdateBook(_ context.Context, req *libraryv1.UpdateBookRequest) (*libraryv1.UpdateBookResponse, error) {
	var v violations
	in := req.GetBook()
	var shelfID, bookID string
	if in == nil {
		v.add("book", "is required")
	} else {
		shelfID, bookID, _ = parseBookName("book.name", in.GetName(), &v)
	}
	paths := req.GetUpdateMask().GetPaths()
	for i, p := range paths {
		if mutable, why := bookFieldKind(p); !mutable {
			if strings.Contains(p, ".") {
				why = "names a nested field; only top-level fields can be updated"
			}
			v.add("update_mask.paths["+strconv.Itoa(i)+"]", "%q %s", p, why)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		paths = mutableBookFieldsSet(in)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	r, rec, err := l.findBook(shelfID, bookID)
	if err != nil {
		return nil, err
	}
	updated := proto.CloneOf(rec.book)
	copyBookFields(updated, in, paths)
	validateBook("book.", updated, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	updated.UpdateTime = timestamppb.New(l.cfg.now())
	rec.book = updated
	l.publish(r, libraryv1.WatchShelfResponse_CHANGE_TYPE_UPDATED, updated)
	return &libraryv1.UpdateBookResponse{Book: proto.CloneOf(updated)}, nil
}

// DeleteBook implements LibraryService.DeleteBook.
func (l *Library) DeleteBook(_ context.Context, req *libraryv1.DeleteBookRequest) (*libraryv1.DeleteBookResponse, error) {
	var v violations
	shelfID, bookID, _ := parseBookName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, rec, err := l.findBook(shelfID, bookID)
	if err != nil {
		return nil, err
	}
	delete(r.books, bookID)
	l.publish(r, libraryv1.WatchShelfResponse_CHANGE_TYPE_DELETED, rec.book)
	return &libraryv1.DeleteBookResponse{}, nil
}

// PublishBook implements LibraryService.PublishBook.
func (l *Library) PublishBook(_ context.Context, req *libraryv1.PublishBookRequest) (*libraryv1.PublishBookResponse, error) {
	var v violations
	shelfID, bookID, _ := parseBookName("name", req.GetName(), &v)
	if t := req.GetPublishTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.add("publish_time", "invalid timestamp: %v", err)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, rec, err := l.findBook(shelfID, bookID)
	if err != nil {
		return nil, err
	}
	if rec.book.GetPublishTime() != nil {
		return nil, failedPrecondition(ReasonAlreadyPublished, req.GetName(), "book "+strconv.Quote(req.GetName())+" is already published")
	}
	now := l.cfg.now()
	updated := proto.CloneOf(rec.book)
	updated.PublishTime = timestamppb.New(now)
	if t := req.GetPublishTime(); t != nil {
		updated.PublishTime = proto.CloneOf(t)
	}
	updated.UpdateTime = timestamppb.New(now)
	rec.book = updated
	l.publish(r, libraryv1.WatchShelfResponse_CHANGE_TYPE_UPDATED, updated)
	return &libraryv1.PublishBookResponse{Book: proto.CloneOf(updated)}, nil
}

// DownloadBook implements LibraryService.DownloadBook. A book without
// content downloads as an empty application/octet-stream.
func (l *Library) DownloadBook(_ context.Context, req *libraryv1.DownloadBookRequest) (*httpbody.HttpBody, error) {
	var v violations
	shelfID, bookID, _ := parseBookName("name", req.GetName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, rec, err := l.findBook(shelfID, bookID)
	if err != nil {
		return nil, err
	}
	ct := rec.contentType
	if ct == "" {
		ct = defaultContentType
	}
	// Content is replaced, never modified in place, so sharing it is safe.
	return &httpbody.HttpBody{ContentType: ct, Data: rec.content}, nil
}

// UploadBook implements LibraryService.UploadBook.
func (l *Library) UploadBook(_ context.Context, req *libraryv1.UploadBookRequest) (*libraryv1.UploadBookResponse, error) {
	var v violations
	shelfID, bookID, _ := parseBookName("name", req.GetName(), &v)
	content := req.GetContent()
	switch {
	case content == nil:
		v.add("content", "is required")
	case len(content.GetData()) > maxContentBytes:
		v.add("content.data", "must be at most %d bytes, got %d", maxContentBytes, len(content.GetData()))
	case len(content.GetContentType()) > 256:
		v.add("content.content_type", "must be at most 256 characters")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	ct := content.GetContentType()
	if ct == "" {
		ct = defaultContentType
	}
	data := slices.Clone(content.GetData())

	l.mu.Lock()
	defer l.mu.Unlock()
	r, rec, err := l.findBook(shelfID, bookID)
	if err != nil {
		return nil, err
	}
	rec.content, rec.contentType = data, ct
	updated := proto.CloneOf(rec.book)
	updated.ContentSizeBytes = int64(len(data))
	updated.UpdateTime = timestamppb.New(l.cfg.now())
	rec.book = updated
	l.publish(r, libraryv1.WatchShelfResponse_CHANGE_TYPE_UPDATED, updated)
	return &libraryv1.UploadBookResponse{Name: req.GetName(), SizeBytes: int64(len(data)), ContentType: ct}, nil
}

// findBook looks a book up. l.mu must be held.
func (l *Library) findBook(shelfID, bookID string) (*shelfRecord, *bookRecord, error) {
	r, ok := l.shelves[shelfID]
	if !ok {
		return nil, nil, notFound(resourceShelf, shelfName(shelfID))
	}
	b, ok := r.books[bookID]
	if !ok {
		return nil, nil, notFound(resourceBook, bookName(shelfID, bookID))
	}
	return r, b, nil
}

// newBookID returns an unused server-chosen id. l.mu must be held.
func (l *Library) newBookID(r *shelfRecord) string {
	for {
		l.nextBook++
		id := "book-" + strconv.Itoa(l.nextBook)
		if _, taken := r.books[id]; !taken {
			return id
		}
	}
}

// mutableBookFieldsSet returns the mutable fields populated in b: what an
// empty update mask means.
func mutableBookFieldsSet(b *libraryv1.Book) []string {
	var paths []string
	m := b.ProtoReflect()
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if mutable, _ := bookFieldKind(string(fd.Name())); mutable {
			paths = append(paths, string(fd.Name()))
		}
		return true
	})
	return paths
}

// copyBookFields sets the named top-level fields of dst to their values in
// src (clearing them when unset in src). Values are copied, not shared.
func copyBookFields(dst, src *libraryv1.Book, paths []string) {
	src = proto.CloneOf(src)
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	fields := d.Descriptor().Fields()
	for _, p := range paths {
		fd := fields.ByName(protoreflect.Name(p))
		if fd == nil {
			continue
		}
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}
