package demo

import (
	"time"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Seed resource names, for tests and the README tour.
const (
	SeedShelfClassics = "shelves/classics"
	SeedShelfSciFi    = "shelves/scifi"
	SeedBookMobyDick  = "shelves/classics/books/moby-dick"
	SeedBookDune      = "shelves/scifi/books/dune"
	SeedFileReadingMD = "shelves/classics/files/notes/2024/reading.md"
)

// seed fills an empty library with two shelves, five books and three files,
// using every field type of the API at least once.
func (l *Library) seed() {
	now := timestamppb.New(l.cfg.now())
	shelf := func(id, displayName, description string, labels map[string]string) *shelfRecord {
		r := &shelfRecord{
			shelf: &libraryv1.Shelf{
				Name: shelfName(id), DisplayName: displayName, Description: description, Labels: labels,
				CreateTime: proto.CloneOf(now), UpdateTime: proto.CloneOf(now),
			},
			books: make(map[string]*bookRecord),
			files: make(map[string]*libraryv1.ShelfFile),
			subs:  make(map[*subscriber]struct{}),
		}
		l.shelves[id] = r
		return r
	}
	book := func(r *shelfRecord, id string, b *libraryv1.Book, content string) {
		b.Name = r.shelf.GetName() + "/books/" + id
		b.CreateTime, b.UpdateTime = proto.CloneOf(now), proto.CloneOf(now)
		rec := &bookRecord{book: b}
		if content != "" {
			rec.content, rec.contentType = []byte(content), "text/plain; charset=utf-8"
			b.ContentSizeBytes = int64(len(content))
		}
		r.books[id] = rec
	}
	file := func(r *shelfRecord, path, contentType, content string) {
		r.files[path] = &libraryv1.ShelfFile{
			Name: r.shelf.GetName() + "/files/" + path, ContentType: contentType,
			Content: []byte(content), SizeBytes: int64(len(content)), UpdateTime: proto.CloneOf(now),
		}
	}

	classics := shelf("classics", "Classics", "Books that outlived their authors.", map[string]string{"floor": "1"})
	book(classics, "moby-dick", &libraryv1.Book{
		Title: "Moby-Dick", Author: "Herman Melville", Genre: libraryv1.Genre_GENRE_FICTION,
		Rating: wrapperspb.Int32(4), PageCount: 635, CopiesSold: 2_000_000,
		ReadingTime: durationpb.New(21*time.Hour + 30*time.Minute),
		Labels:      map[string]string{"language": "en"},
		Metadata:    seedStruct(map[string]any{"first_edition": 1851, "illustrated": false, "tags": []any{"whale", "sea"}}),
		CoverImage:  []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a},
		Chapters: []*libraryv1.Book_Chapter{
			{Title: "Loomings", StartPage: 1},
			{Title: "The Carpet-Bag", StartPage: 9},
		},
		PublishTime: timestamppb.New(time.Date(1851, time.October, 18, 0, 0, 0, 0, time.UTC)),
	}, "Call me Ishmael.\n")
	book(classics, "pride-and-prejudice", &libraryv1.Book{
		Title: "Pride and Prejudice", Author: "Jane Austen", Genre: libraryv1.Genre_GENRE_FICTION,
		Rating: wrapperspb.Int32(5), PageCount: 432,
		PublishTime: timestamppb.New(time.Date(1813, time.January, 28, 0, 0, 0, 0, time.UTC)),
	}, "")
	book(classics, "the-odyssey", &libraryv1.Book{
		Title: "The Odyssey", Author: "Homer", Genre: libraryv1.Genre_GENRE_POETRY, PageCount: 541,
		Labels: map[string]string{"language": "grc"},
	}, "")
	file(classics, "catalog.txt", "text/plain; charset=utf-8", "moby-dick\npride-and-prejudice\nthe-odyssey\n")
	file(classics, "notes/2024/reading.md", "text/markdown; charset=utf-8", "# Reading group 2024\n\nMoby-Dick in spring.\n")

	scifi := shelf("scifi", "Science fiction", "", nil)
	book(scifi, "dune", &libraryv1.Book{
		Title: "Dune", Author: "Frank Herbert", Genre: libraryv1.Genre_GENRE_SCIENCE_FICTION,
		Rating: wrapperspb.Int32(5), PageCount: 412, CopiesSold: 20_000_000,
		ReadingTime: durationpb.New(13 * time.Hour),
		Metadata:    seedStruct(map[string]any{"series": "Dune", "volume": 1}),
	}, "A sample of Dune: the demo library stores short texts only.\n")
	book(scifi, "the-left-hand-of-darkness", &libraryv1.Book{
		Title: "The Left Hand of Darkness", Author: "Ursula K. Le Guin", Genre: libraryv1.Genre_GENRE_SCIENCE_FICTION,
		PageCount: 304,
	}, "")
	file(scifi, "README", "text/plain; charset=utf-8", "Science fiction shelf.\n")
}

// seedStruct converts seed literals, which are always convertible.
func seedStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		return &structpb.Struct{}
	}
	return s
}
