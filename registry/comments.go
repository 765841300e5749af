package registry

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fileComments are the documentation comments of one file, kept apart
// from its descriptor and compressed. A descriptor's source information
// (every span, every detached comment, a location per token) is most of a
// large contract set's memory once built: Google's APIs hold 1.4 million
// locations and 33 MB of comments, and only documentation generators read
// them, rarely. So the snapshot registers descriptors without it and keeps
// only what those generators read, the leading and trailing comment of
// each commented declaration by its source path, until they ask.
type fileComments struct {
	path string
	// packed is a flate stream of a serialized SourceCodeInfo whose
	// locations hold a path and its leading and trailing comments, nothing
	// else.
	packed []byte
}

// commentPacker packs the comments of many files with one compressor (a
// flate writer costs about a megabyte to make). It is not safe for
// concurrent use.
type commentPacker struct {
	buf bytes.Buffer
	w   *flate.Writer
}

// commentsOnly returns the locations of info that have a leading or
// trailing comment, with their path and those comments only, or nil when
// none has.
func commentsOnly(info *descriptorpb.SourceCodeInfo) *descriptorpb.SourceCodeInfo {
	var kept []*descriptorpb.SourceCodeInfo_Location
	for _, l := range info.GetLocation() {
		if strings.TrimSpace(l.GetLeadingComments()) == "" && strings.TrimSpace(l.GetTrailingComments()) == "" {
			continue
		}
		kept = append(kept, &descriptorpb.SourceCodeInfo_Location{
			Path:             l.GetPath(),
			LeadingComments:  l.LeadingComments,
			TrailingComments: l.TrailingComments,
		})
	}
	if len(kept) == 0 {
		return nil
	}
	return &descriptorpb.SourceCodeInfo{Location: kept}
}

// pack returns the comments of info's file, compressed, and their
// serialized form before compression (for fingerprints); ok is false when
// info holds no comment.
func (p *commentPacker) pack(path string, info *descriptorpb.SourceCodeInfo) (c fileComments, plain []byte, ok bool, err error) {
	kept := commentsOnly(info)
	if kept == nil {
		return fileComments{}, nil, false, nil
	}
	plain, err = proto.MarshalOptions{Deterministic: true}.Marshal(kept)
	if err != nil {
		return fileComments{}, nil, false, fmt.Errorf("comments of %q: %w", path, err)
	}
	p.buf.Reset()
	if p.w == nil {
		if p.w, err = flate.NewWriter(&p.buf, flate.DefaultCompression); err != nil {
			return fileComments{}, nil, false, err
		}
	} else {
		p.w.Reset(&p.buf)
	}
	if _, err := p.w.Write(plain); err != nil {
		return fileComments{}, nil, false, fmt.Errorf("comments of %q: %w", path, err)
	}
	if err := p.w.Close(); err != nil {
		return fileComments{}, nil, false, fmt.Errorf("comments of %q: %w", path, err)
	}
	return fileComments{path: path, packed: bytes.Clone(p.buf.Bytes())}, plain, true, nil // packed again by packComments
}

// file returns the comments as a FileDescriptorProto holding the file's
// name and its SourceCodeInfo, whose locations carry paths and comments
// but no spans.
func (c fileComments) file() (*descriptorpb.FileDescriptorProto, error) {
	r := flate.NewReader(bytes.NewReader(c.packed))
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("comments of %q: %w", c.path, err)
	}
	info := new(descriptorpb.SourceCodeInfo)
	if err := proto.Unmarshal(plain, info); err != nil {
		return nil, fmt.Errorf("comments of %q: %w", c.path, err)
	}
	return &descriptorpb.FileDescriptorProto{Name: proto.String(c.path), SourceCodeInfo: info}, nil
}

// packComments copies cs into one allocation (see Build: made after the
// check's garbage is collected, so it does not keep that memory).
func packComments(cs []fileComments) []fileComments {
	size := 0
	for _, c := range cs {
		size += len(c.packed)
	}
	arena := make([]byte, 0, size)
	out := make([]fileComments, len(cs))
	for i, c := range cs {
		start := len(arena)
		arena = append(arena, c.packed...)
		out[i] = fileComments{path: strings.Clone(c.path), packed: arena[start:len(arena):len(arena)]}
	}
	return out
}
