package registry

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Source yields file descriptors for a snapshot. Name identifies the
// source in errors, so a conflict can name both sides.
type Source interface {
	Name() string
	Files() ([]*descriptorpb.FileDescriptorProto, error)
}

// Linked is a Source over generated code linked into the binary. Pass the
// generated File_*_proto descriptors; their imports come along.
func Linked(files ...protoreflect.FileDescriptor) Source {
	return linkedSource{files: files}
}

type linkedSource struct {
	files []protoreflect.FileDescriptor
}

func (linkedSource) Name() string { return "linked" }

// linked returns the generated descriptors themselves, and those of
// everything they import, transitively, so the snapshot can register them
// as they are and keep their generated Go types. Without the imports, a
// message of an imported file would be rebuilt from its descriptor while
// the generated types of the given files refer to the generated one, and
// the two could not be mixed in one message.
func (s linkedSource) linked() []protoreflect.FileDescriptor {
	var out []protoreflect.FileDescriptor
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if fd == nil || fd.IsPlaceholder() || seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		out = append(out, fd)
	}
	for _, fd := range s.files {
		add(fd)
	}
	return out
}

func (s linkedSource) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	var out []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		out = append(out, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range s.files {
		if fd == nil {
			return nil, errors.New("linked: nil file descriptor")
		}
		add(fd)
	}
	return out, nil
}

// DescriptorSetFile is a Source reading a serialized
// google.protobuf.FileDescriptorSet from path when the snapshot is built.
// Its files' source information is reduced to what a snapshot keeps, as
// each file is read (see readDescriptorSet).
func DescriptorSetFile(path string) Source {
	return descriptorSetFile{path: path}
}

type descriptorSetFile struct{ path string }

func (s descriptorSetFile) Name() string { return s.path }

func (s descriptorSetFile) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("read descriptor set: %w", err)
	}
	return readDescriptorSet(data)
}

// WithoutComments returns src with its files' source information dropped,
// for what never documents the contracts (`sluice routes`, `sluice
// validate`): a snapshot built from it keeps no comments, and building it
// skips compressing them (a third of the time Google's APIs take to
// load). Linked sources carry no comments and are returned as they are.
func WithoutComments(src Source) Source {
	if _, linked := src.(linkedSource); linked {
		return src
	}
	return withoutComments{src}
}

type withoutComments struct{ Source }

func (s withoutComments) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	files, err := s.Source.Files()
	if err != nil {
		return nil, err
	}
	out := make([]*descriptorpb.FileDescriptorProto, len(files))
	for i, f := range files {
		out[i] = withoutSourceInfo(f)
	}
	return out, nil
}

// DescriptorSet is a Source over an in-memory descriptor set; name is how
// errors refer to it. Like DescriptorSetFile, it reduces source
// information as it reads.
func DescriptorSet(name string, data []byte) Source {
	return descriptorSetBytes{name: name, data: data}
}

type descriptorSetBytes struct {
	name string
	data []byte
}

func (s descriptorSetBytes) Name() string { return s.name }

func (s descriptorSetBytes) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	return readDescriptorSet(s.data)
}

// readDescriptorSet is ParseDescriptorSet for a snapshot: each file's
// source information is reduced, as soon as the file is decoded, to the
// locations with a comment, and those to their path and leading and
// trailing comments (no spans, no detached comments), all a snapshot
// keeps of it. Decoding a whole set first would hold every location at
// once: for Google's APIs, 1.4 million of them, most of the memory
// loading takes at its peak.
func readDescriptorSet(data []byte) ([]*descriptorpb.FileDescriptorProto, error) {
	var files []*descriptorpb.FileDescriptorProto
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num != fileDescriptorSetFile || typ != protowire.BytesType {
			// Not a file: checked, and kept as ParseDescriptorSet would.
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(v, f); err != nil {
			return nil, fmt.Errorf("not a FileDescriptorSet: %w", err)
		}
		if f.GetName() == "" {
			return nil, fmt.Errorf("file %d in descriptor set has no name", len(files))
		}
		f.SourceCodeInfo = commentsOnly(f.GetSourceCodeInfo())
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, errors.New("descriptor set holds no files")
	}
	return files, nil
}

// fileDescriptorSetFile is FileDescriptorSet.file.
const fileDescriptorSetFile = 1

// ParseDescriptorSet decodes a serialized FileDescriptorSet.
func ParseDescriptorSet(data []byte) ([]*descriptorpb.FileDescriptorProto, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet: %w", err)
	}
	if len(set.GetFile()) == 0 {
		return nil, errors.New("descriptor set holds no files")
	}
	for i, f := range set.GetFile() {
		if f.GetName() == "" {
			return nil, fmt.Errorf("file %d in descriptor set has no name", i)
		}
	}
	return set.GetFile(), nil
}
