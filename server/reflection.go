package server

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Contracts are the descriptors the gateway's reflection service answers
// from: every proxied API (registry.Snapshot satisfies it).
type Contracts interface {
	// Files resolves descriptors by path or symbol name.
	Files() *protoregistry.Files
	// Types resolves extensions.
	Types() *protoregistry.Types
	// Services returns the full names of the services to list.
	Services() []string
}

// WithReflection serves grpc.reflection.v1 and v1alpha from the gateway's
// own contracts instead of proxying them to an upstream: clients such as
// grpcurl and Postman can list and describe every proxied API even when no
// upstream serves reflection, and see every upstream's services at once.
// current is called on every lookup, so answers follow reloads; it must be
// safe for concurrent use and may return nil (no contracts: empty answers).
//
// Reflection is a registered service: it passes the policy chain like any
// proxied method (authorization rules can close it), and a reflection call
// is never forwarded to an upstream, even one that serves reflection too.
func WithReflection(current func() Contracts) Option {
	return WithService(func(r grpc.ServiceRegistrar) {
		opts := reflection.ServerOptions{
			Services:           reflectedServices{current},
			DescriptorResolver: reflectedFiles{current},
			ExtensionResolver:  reflectedTypes{current},
		}
		reflectionv1.RegisterServerReflectionServer(r, reflection.NewServerV1(opts))
		reflectionv1alpha.RegisterServerReflectionServer(r, reflection.NewServer(opts))
	})
}

// ownServices are the services the gateway serves itself and lists beside
// the contracts'; their files come from the binary.
var ownServices = []string{
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// ownFile reports whether path is the file of one of ownServices (none of
// them imports anything): only those are looked up in the binary, so that
// reflection never reveals other types linked into the gateway.
func ownFile(path string) bool {
	switch path {
	case "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto":
		return true
	}
	return false
}

type reflectedServices struct{ current func() Contracts }

// GetServiceInfo lists the contracts' services and the gateway's own; the
// reflection service reads only the keys.
func (s reflectedServices) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	for _, name := range ownServices {
		out[name] = grpc.ServiceInfo{}
	}
	if c := s.current(); c != nil {
		for _, name := range c.Services() {
			out[name] = grpc.ServiceInfo{}
		}
	}
	return out
}

type reflectedFiles struct{ current func() Contracts }

func (f reflectedFiles) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if c := f.current(); c != nil {
		if fd, err := c.Files().FindFileByPath(path); err == nil {
			return fd, nil
		}
	}
	if ownFile(path) {
		return protoregistry.GlobalFiles.FindFileByPath(path)
	}
	return nil, protoregistry.NotFound
}

func (f reflectedFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if c := f.current(); c != nil {
		if d, err := c.Files().FindDescriptorByName(name); err == nil {
			return d, nil
		}
	}
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err == nil && ownFile(d.ParentFile().Path()) {
		return d, nil
	}
	return nil, protoregistry.NotFound
}

type reflectedTypes struct{ current func() Contracts }

func (t reflectedTypes) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if c := t.current(); c != nil {
		return c.Types().FindExtensionByName(name)
	}
	return nil, protoregistry.NotFound
}

func (t reflectedTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if c := t.current(); c != nil {
		return c.Types().FindExtensionByNumber(message, field)
	}
	return nil, protoregistry.NotFound
}

func (t reflectedTypes) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	if c := t.current(); c != nil {
		c.Types().RangeExtensionsByMessage(message, f)
	}
}
