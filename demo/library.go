package demo

import (
	"sort"
	"sync"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"
)

// Library is the in-memory LibraryService. Its methods can be called
// directly; the test knobs (see the package doc) only apply to calls that
// arrive through a gRPC server where it was registered with Register.
//
// A Library is safe for concurrent use. The zero value is not usable: use
// NewLibrary.
type Library struct {
	libraryv1.UnimplementedLibraryServiceServer

	cfg config

	// mu guards everything below. Change events are published while it is
	// held, so every watcher sees changes in the order they were made.
	mu        sync.RWMutex
	shelves   map[string]*shelfRecord // by shelf id
	nextShelf int                     // counter for server-chosen shelf ids
	nextBook  int                     // counter for server-chosen book ids
	closed    bool                    // Close was called: no more watches
}

var _ libraryv1.LibraryServiceServer = (*Library)(nil)

type shelfRecord struct {
	shelf *libraryv1.Shelf                // book_count is filled on read
	books map[string]*bookRecord          // by book id
	files map[string]*libraryv1.ShelfFile // by path
	subs  map[*subscriber]struct{}
}

type bookRecord struct {
	book        *libraryv1.Book
	content     []byte
	contentType string
}

// NewLibrary returns a library holding the demo shelves and books (unless
// WithoutSeed is given).
func NewLibrary(opts ...Option) *Library {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	l := &Library{cfg: cfg, shelves: make(map[string]*shelfRecord)}
	if cfg.seed {
		l.seed()
	}
	return l
}

// Register registers the library on s, with the test knobs of the package
// doc applied inside whatever interceptors s has.
func (l *Library) Register(s grpc.ServiceRegistrar) {
	s.RegisterService(withKnobs(&libraryv1.LibraryService_ServiceDesc), l)
}

// Close ends every WatchShelf call with UNAVAILABLE and makes later ones
// fail the same way; everything else keeps working. Watches never end on
// their own, so call Close before grpc.Server.GracefulStop, or the stop
// waits for every watcher to hang up. Close is idempotent.
func (l *Library) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, r := range l.shelves {
		for s := range r.subs {
			s.err = errShuttingDown()
			close(s.events)
			delete(r.subs, s)
		}
	}
}

// NewServer returns a gRPC server serving lib (a new seeded Library when
// nil), the gRPC health service (SERVING, for the empty service name and
// LibraryService) and server reflection. The caller serves and stops it.
func NewServer(lib *Library, opts ...grpc.ServerOption) *grpc.Server {
	if lib == nil {
		lib = NewLibrary()
	}
	s := grpc.NewServer(opts...)
	lib.Register(s)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(libraryv1.LibraryService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return s
}

// shelfView returns a copy of a shelf for a response. l.mu must be held.
func (r *shelfRecord) view() *libraryv1.Shelf {
	s := proto.CloneOf(r.shelf)
	s.BookCount = int64(len(r.books))
	return s
}

// sortedShelfNames returns every shelf name in order. l.mu must be held.
func (l *Library) sortedShelfNames() []string {
	names := make([]string, 0, len(l.shelves))
	for _, r := range l.shelves {
		names = append(names, r.shelf.GetName())
	}
	sort.Strings(names)
	return names
}
