package transcoding

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// typeResolver is what JSON mapping needs to resolve google.protobuf.Any
// and extensions.
type typeResolver interface {
	protoregistry.ExtensionTypeResolver
	protoregistry.MessageTypeResolver
}

// fallbackResolver resolves through the contracts first and then through
// the types linked into the binary. Error details (google.rpc.ErrorInfo,
// BadRequest, ...) are usually not part of an API's own contract, yet
// upstreams attach them to every error: they must still render.
type fallbackResolver struct {
	primary typeResolver
}

func withLinkedTypes(primary typeResolver) typeResolver {
	if primary == nil {
		return protoregistry.GlobalTypes
	}
	return fallbackResolver{primary: primary}
}

func (r fallbackResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.primary.FindMessageByName(name); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (r fallbackResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := r.primary.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r fallbackResolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.primary.FindExtensionByName(name); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (r fallbackResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.primary.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}
