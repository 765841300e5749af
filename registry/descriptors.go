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
	if _, err := protodesc.NewFile(fd, checked); err != nil {
		return nil, err
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
	if err != nil {
		return nil, err
	}
	d, err := buildRaw(raw, checked)
	if err != nil {
		return nil, err
	}
	if err := checked.RegisterFile(d); err != nil {
		return nil, err
	}
	return raw, nil
}

// buildRaw builds the descriptor of a serialized FileDescriptorProto that
// checkFile accepted, unregistered: protobuf-go's builder for generated
// code, over the same bytes. Options stay serialized until read, the
// indexes of a message's fields are made when it is first looked up by
// field name, names share one buffer per file, and the file's contents are
// decoded the first time they are asked for, resolving types in files (so
// files must hold every import by then).
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
