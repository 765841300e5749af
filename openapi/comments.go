package openapi

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// sourceFile holds the comments of one file by source path ("4,0,2,1").
type sourceFile struct {
	comments map[string]string
}

// WithSourceInfo supplies comments for files whose descriptors in the
// snapshot carry none. Descriptors linked into the binary (generated Go
// code) have no source information, and a snapshot uses them even when a
// descriptor set with comments describes the same contract; pass that
// set's files here (ParseDescriptorSet of a `buf build` output) to keep
// its comments as descriptions. A file whose snapshot descriptor has its
// own comments keeps them.
func WithSourceInfo(files ...*descriptorpb.FileDescriptorProto) Option {
	return optionFunc(func(c *config) {
		for _, f := range files {
			locs := f.GetSourceCodeInfo().GetLocation()
			if len(locs) == 0 {
				continue
			}
			sf := &sourceFile{comments: make(map[string]string, len(locs))}
			for _, l := range locs {
				text := l.GetLeadingComments()
				if strings.TrimSpace(text) == "" {
					text = l.GetTrailingComments()
				}
				if strings.TrimSpace(text) != "" {
					sf.comments[pathKey(l.GetPath())] = text
				}
			}
			c.sourceInfo[f.GetName()] = sf
		}
	})
}

// comment returns the cleaned comment of d: its own source information
// first, then the one given by WithSourceInfo.
func (c *config) comment(d protoreflect.Descriptor) string {
	fd := d.ParentFile()
	if fd == nil {
		return ""
	}
	if loc := fd.SourceLocations().ByDescriptor(d); loc.LeadingComments != "" || loc.TrailingComments != "" {
		if loc.LeadingComments != "" {
			return cleanComment(loc.LeadingComments)
		}
		return cleanComment(loc.TrailingComments)
	}
	sf := c.sourceInfo[fd.Path()]
	if sf == nil {
		return ""
	}
	path, ok := sourcePath(d)
	if !ok {
		return ""
	}
	return cleanComment(sf.comments[pathKey(path)])
}

// sourcePath computes the SourceCodeInfo path of d (see
// descriptor.proto's SourceCodeInfo.Location.path).
func sourcePath(d protoreflect.Descriptor) ([]int32, bool) {
	var rev []int32
	for {
		parent := d.Parent()
		_, parentIsFile := parent.(protoreflect.FileDescriptor)
		var field int32
		switch x := d.(type) {
		case protoreflect.MessageDescriptor:
			field = 4 // FileDescriptorProto.message_type
			if !parentIsFile {
				field = 3 // DescriptorProto.nested_type
			}
		case protoreflect.EnumDescriptor:
			field = 5 // FileDescriptorProto.enum_type
			if !parentIsFile {
				field = 4 // DescriptorProto.enum_type
			}
		case protoreflect.ServiceDescriptor:
			field = 6
		case protoreflect.MethodDescriptor:
			field = 2
		case protoreflect.EnumValueDescriptor:
			field = 2
		case protoreflect.FieldDescriptor:
			field = 2 // DescriptorProto.field
			if x.IsExtension() {
				field = 7 // FileDescriptorProto.extension
				if !parentIsFile {
					field = 6 // DescriptorProto.extension
				}
			}
		case protoreflect.OneofDescriptor:
			field = 8
		default:
			return nil, false
		}
		rev = append(rev, int32(d.Index()), field)
		if parentIsFile {
			break
		}
		if parent == nil {
			return nil, false
		}
		d = parent
	}
	out := make([]int32, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out, true
}

func pathKey(path []int32) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// cleanComment turns a proto comment into a description: the one leading
// space of each line removed, lint directives (`buf:lint:ignore ...`,
// `@exclude`d text) dropped, surrounding blank lines trimmed.
func cleanComment(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.TrimRight(strings.TrimPrefix(l, " "), " \t\r")
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "buf:lint:") || strings.HasPrefix(t, "@exclude") {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// summary is the first sentence of a description, for listings; "" when
// the first sentence is long.
func summary(desc string) string {
	first, _, _ := strings.Cut(desc, "\n\n")
	first = strings.Join(strings.Fields(first), " ")
	if i := strings.Index(first, ". "); i >= 0 {
		first = first[:i+1]
	}
	if len(first) > 120 {
		return ""
	}
	return first
}
