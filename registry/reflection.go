package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The two versions of the server reflection service. v1alpha is the
// older name of the same protocol: its messages are wire-identical to
// v1's, so one set of Go types speaks both and only the method path
// differs.
const (
	reflectionV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectionV1alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// ReflectionOption configures a ReflectionSource.
type ReflectionOption interface{ apply(*reflectionConfig) }

type reflectionOptionFunc func(*reflectionConfig)

func (f reflectionOptionFunc) apply(c *reflectionConfig) { f(c) }

type reflectionConfig struct {
	timeout  time.Duration
	maxFiles int
	maxBytes int
	internal bool
	services func(string) bool
	callOpts []grpc.CallOption
}

// WithReflectionTimeout bounds one Files call: listing the services and
// fetching every file. The default is 10 seconds.
func WithReflectionTimeout(d time.Duration) ReflectionOption {
	return reflectionOptionFunc(func(c *reflectionConfig) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithReflectionLimits bounds what one Files call accepts from the
// upstream: at most maxFiles files and maxBytes bytes of serialized
// descriptors in total (defaults 1,000 files and 16 MiB), so a hostile or
// broken upstream can not exhaust memory. A value <= 0 keeps the default.
func WithReflectionLimits(maxFiles, maxBytes int) ReflectionOption {
	return reflectionOptionFunc(func(c *reflectionConfig) {
		if maxFiles > 0 {
			c.maxFiles = maxFiles
		}
		if maxBytes > 0 {
			c.maxBytes = maxBytes
		}
	})
}

// WithInternalServices includes the grpc.reflection.* and grpc.health.*
// services, which are skipped by default: they are infrastructure of the
// upstream, not its API.
func WithInternalServices() ReflectionOption {
	return reflectionOptionFunc(func(c *reflectionConfig) { c.internal = true })
}

// WithServiceFilter keeps only the services (by full name) for which keep
// returns true, for an upstream that serves more than sluice should
// expose. It applies after the internal services are skipped.
func WithServiceFilter(keep func(fullName string) bool) ReflectionOption {
	return reflectionOptionFunc(func(c *reflectionConfig) { c.services = keep })
}

// WithReflectionCallOptions adds call options (credentials, for example)
// to the reflection stream.
func WithReflectionCallOptions(opts ...grpc.CallOption) ReflectionOption {
	return reflectionOptionFunc(func(c *reflectionConfig) { c.callOpts = append(c.callOpts, opts...) })
}

// ReflectionSource is a Source that asks an upstream for its contracts
// through gRPC server reflection (grpc.reflection.v1, falling back to
// v1alpha when the upstream does not implement v1). Every Files call asks
// again, so a Registry reload picks up what the upstream serves now. It is
// safe for concurrent use.
type ReflectionSource struct {
	name   string
	conn   grpc.ClientConnInterface
	closer func() error
	cfg    reflectionConfig
	// alpha remembers that the upstream answered only v1alpha last time,
	// to save a round trip; v1 is tried again when v1alpha fails.
	alpha atomic.Bool
}

var _ Source = (*ReflectionSource)(nil)

// Reflection returns a Source over the upstream behind conn. upstream
// names it in errors and in Method.Source (as "reflection:"+upstream); conn
// stays owned by the caller. Nothing is fetched until Files is called.
func Reflection(upstream string, conn grpc.ClientConnInterface, opts ...ReflectionOption) *ReflectionSource {
	cfg := reflectionConfig{
		timeout:  10 * time.Second,
		maxFiles: 1000,
		maxBytes: 16 << 20,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	return &ReflectionSource{name: upstream, conn: conn, cfg: cfg}
}

// DialReflection dials target with dialOpts and returns a Source over it
// that owns the connection: Close closes it.
func DialReflection(target string, dialOpts []grpc.DialOption, opts ...ReflectionOption) (*ReflectionSource, error) {
	cc, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("reflection of %s: %w", target, err)
	}
	s := Reflection(target, cc, opts...)
	s.closer = cc.Close
	return s, nil
}

// Name returns "reflection:" and the upstream's name.
func (s *ReflectionSource) Name() string { return "reflection:" + s.name }

// Close closes the connection when DialReflection made it; otherwise it
// does nothing.
func (s *ReflectionSource) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer()
}

// Files lists the upstream's services and returns the files defining them
// with every transitive import the upstream serves. An import the
// upstream does not serve is left out when it is linked into this binary
// (well-known types, google.api annotations): Build resolves it there. The
// error names the file that is missing and the file that imports it.
func (s *ReflectionSource) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	first, second := reflectionV1, reflectionV1alpha
	if s.alpha.Load() {
		first, second = second, first
	}
	files, err := s.fetch(ctx, first)
	if status.Code(err) == codes.Unimplemented {
		files, err = s.fetch(ctx, second)
		if err == nil {
			s.alpha.Store(second == reflectionV1alpha)
		}
	}
	switch {
	case err == nil:
		return files, nil
	case status.Code(err) == codes.Unimplemented:
		return nil, fmt.Errorf("the upstream serves no server reflection (grpc.reflection.v1 or v1alpha): %w", err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		// grpc-go may report the deadline before the context's own timer
		// has fired.
		return nil, fmt.Errorf("server reflection did not finish within %v: %w", s.cfg.timeout, err)
	case status.Code(err) == codes.ResourceExhausted:
		return nil, fmt.Errorf("reflection answer refused or too large (limit %d bytes): %w", s.cfg.maxBytes, err)
	}
	return nil, err
}

// session is one reflection stream: requests are answered in order, one
// at a time.
type session struct {
	stream grpc.ClientStream
	cfg    *reflectionConfig
	files  map[string]*descriptorpb.FileDescriptorProto
	order  []string
	bytes  int
}

func (s *ReflectionSource) fetch(ctx context.Context, method string) ([]*descriptorpb.FileDescriptorProto, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream on every return
	callOpts := append([]grpc.CallOption{grpc.MaxCallRecvMsgSize(s.cfg.maxBytes + 4096)}, s.cfg.callOpts...)
	stream, err := s.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method, callOpts...)
	if err != nil {
		return nil, err
	}
	ss := &session{stream: stream, cfg: &s.cfg, files: map[string]*descriptorpb.FileDescriptorProto{}}
	resp, err := ss.ask(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var services []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		name := svc.GetName()
		if !s.cfg.internal && (strings.HasPrefix(name, "grpc.reflection.") || strings.HasPrefix(name, "grpc.health.")) {
			continue
		}
		if s.cfg.services != nil && !s.cfg.services(name) {
			continue
		}
		services = append(services, name)
	}
	sort.Strings(services)
	if len(services) == 0 {
		return nil, errors.New("the upstream lists no services")
	}

	for _, svc := range services {
		if ss.hasSymbolFile(svc) {
			continue
		}
		resp, err := ss.ask(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc},
		})
		if err != nil {
			return nil, fmt.Errorf("file of service %s: %w", svc, err)
		}
		if err := ss.add(resp); err != nil {
			return nil, fmt.Errorf("file of service %s: %w", svc, err)
		}
	}

	// Fetch the imports the upstream did not send along, breadth first,
	// in a stable order.
	for i := 0; i < len(ss.order); i++ {
		importer := ss.files[ss.order[i]]
		for _, dep := range importer.GetDependency() {
			if _, ok := ss.files[dep]; ok {
				continue
			}
			resp, err := ss.ask(&reflectionpb.ServerReflectionRequest{
				MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep},
			})
			if err == nil {
				err = ss.add(resp)
				if err == nil {
					if _, ok := ss.files[dep]; !ok {
						err = errors.New("the upstream answered with other files")
					}
				}
			}
			if err != nil {
				if _, linked := protoregistry.GlobalFiles.FindFileByPath(dep); linked == nil && isNotFound(err) {
					ss.files[dep] = nil // Build takes the binary's copy
					continue
				}
				return nil, fmt.Errorf("file %q imported by %q: %w", dep, importer.GetName(), err)
			}
		}
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(ss.order))
	for _, name := range ss.order {
		out = append(out, ss.files[name])
	}
	return out, nil
}

// ask sends one request and reads its answer; an ErrorResponse becomes a
// status error with the upstream's code.
func (ss *session) ask(req *reflectionpb.ServerReflectionRequest) (*reflectionpb.ServerReflectionResponse, error) {
	if err := ss.stream.SendMsg(req); err != nil {
		// The real error, if any, arrives on RecvMsg.
		if !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	resp := new(reflectionpb.ServerReflectionResponse)
	if err := ss.stream.RecvMsg(resp); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, status.Error(codes.Unavailable, "the upstream ended the reflection stream early")
		}
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return resp, nil
}

// add decodes the files of a FileDescriptorResponse, enforcing the
// limits. Files already held are skipped: the upstream may send them
// again.
func (ss *session) add(resp *reflectionpb.ServerReflectionResponse) error {
	fdr := resp.GetFileDescriptorResponse()
	if fdr == nil {
		return errors.New("the upstream answered without a file descriptor")
	}
	for _, raw := range fdr.GetFileDescriptorProto() {
		ss.bytes += len(raw)
		if ss.bytes > ss.cfg.maxBytes {
			return fmt.Errorf("the upstream's descriptors exceed %d bytes", ss.cfg.maxBytes)
		}
		fd := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(raw, fd); err != nil {
			return fmt.Errorf("not a FileDescriptorProto: %w", err)
		}
		if fd.GetName() == "" {
			return errors.New("the upstream sent a file without a name")
		}
		if _, ok := ss.files[fd.GetName()]; ok {
			continue
		}
		if len(ss.order) >= ss.cfg.maxFiles {
			return fmt.Errorf("the upstream serves more than %d files", ss.cfg.maxFiles)
		}
		ss.files[fd.GetName()] = fd
		ss.order = append(ss.order, fd.GetName())
	}
	return nil
}

// hasSymbolFile reports whether a file already held defines the service
// named svc, which saves a round trip for services sharing a file.
func (ss *session) hasSymbolFile(svc string) bool {
	for _, name := range ss.order {
		fd := ss.files[name]
		for _, sd := range fd.GetService() {
			full := sd.GetName()
			if fd.GetPackage() != "" {
				full = fd.GetPackage() + "." + full
			}
			if full == svc {
				return true
			}
		}
	}
	return false
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
