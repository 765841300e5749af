package registry

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/runtime/protoimpl"
	"google.golang.org/protobuf/types/descriptorpb"
)

// sourceCodeInfoField is FileDescriptorProto.source_code_info.
const sourceCodeInfoField = 9

// withoutSourceInfo returns fd without its source information, sharing
// everything else with fd (which it leaves unchanged: a source may hand
// out the same descriptors on every reload).
func withoutSourceInfo(fd *descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorProto {
	if fd.SourceCodeInfo == nil {
		return fd
	}
	out := new(descriptorpb.FileDescriptorProto)
	src, dst := fd.ProtoReflect(), out.ProtoReflect()
	src.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Number() != sourceCodeInfoField {
			dst.Set(f, v)
		}
		return true
	})
	dst.SetUnknown(src.GetUnknown())
	return out
}

// checkFile validates fd (without source information) against the files
// already checked, registers in checked a descriptor of it for the files
// that import it, and returns fd serialized, for buildRaw.
//
// protodesc.NewFile is the check, and its descriptor is dropped at once:
// it is the most expensive form protobuf-go has (every option message
// cloned, four name and number indexes made for every message's fields
// while validating): 260 MiB for Google's APIs. What checked keeps, and
// the snapshot in the end, is the form generated code gets, built from the
// serialized file by buildRaw.
func checkFile(fd *descriptorpb.FileDescriptorProto, checked *protoregistry.Files) ([]byte, error) {
	d, err := protodesc.NewFile(fd, checked)
	if err != nil {
		return nil, err
	}
	if !fullyQualified(fd) {
		// buildRaw resolves only full names (".pkg.Message"), which is
		// what compilers write; protodesc also accepts names relative to
		// their scope, and writes them out in full.
		fd = protodesc.ToFileDescriptorProto(d)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
	if err != nil {
		return nil, err
	}
	built, err := buildRaw(raw, checked)
	if err != nil {
		return nil, err
	}
	if err := checked.RegisterFile(built); err != nil {
		return nil, err
	}
	return raw, nil
}

// fullyQualified reports whether every type fd refers to (field types,
// extendees, method input and output) is named in full, with a leading
// dot.
func fullyQualified(fd *descriptorpb.FileDescriptorProto) bool {
	full := func(name string) bool { return name == "" || name[0] == '.' }
	fields := func(fs []*descriptorpb.FieldDescriptorProto) bool {
		for _, f := range fs {
			if !full(f.GetTypeName()) || !full(f.GetExtendee()) {
				return false
			}
		}
		return true
	}
	var messages func([]*descriptorpb.DescriptorProto) bool
	messages = func(ms []*descriptorpb.DescriptorProto) bool {
		for _, m := range ms {
			if !fields(m.GetField()) || !fields(m.GetExtension()) || !messages(m.GetNestedType()) {
				return false
			}
		}
		return true
	}
	if !messages(fd.GetMessageType()) || !fields(fd.GetExtension()) {
		return false
	}
	for _, s := range fd.GetService() {
		for _, m := range s.GetMethod() {
			if !full(m.GetInputType()) || !full(m.GetOutputType()) {
				return false
			}
		}
	}
	return true
}

// buildRaw builds the descriptor of a serialized FileDescriptorProto that
// checkFile accepted, unregistered: protobuf-go's builder for generated
// code, over the same bytes. Options stay serialized until read, the
// indexes of a message's fields are made when it is first looked up by
// field name, names share one buffer per file, and the file's contents are
// decoded the first time they are asked for, resolving types in files (so
// files must hold every import by then). protoimpl is documented as
// generated code's: this is the builder every generated file runs, at the
// protobuf-go version go.mod pins, and the registry's and the corpora's
// tests would show a change in what it builds.
func buildRaw(raw []byte, files *protoregistry.Files) (fd protoreflect.FileDescriptor, err error) {
	defer func() {
		// The builder trusts its input and panics on what it can not
		// use; validation should have refused that already.
		if r := recover(); r != nil {
			fd, err = nil, fmt.Errorf("build descriptor: %v", r)
		}
	}()
	reg := &unregistered{Files: files}
	out := protoimpl.DescBuilder{RawDescriptor: raw, FileRegistry: reg}.Build()
	return out.File, nil
}

// unregistered resolves imports and types for the builder through Files,
// and keeps the builder from registering what it built: Build registers
// it, and reports a conflict as an error rather than the builder's panic.
type unregistered struct {
	*protoregistry.Files
}

func (unregistered) RegisterFile(protoreflect.FileDescriptor) error { return nil }
