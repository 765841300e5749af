// Package corpora reads the contract corpora the build makes (Google's
// APIs and grpc-gateway's examples, `make corpora`) for the tests that run
// sluice on them, independently of the registry and of the route table,
// so that what those tests count is not what they check.
package corpora

import (
	"fmt"
	"os"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// CountBindings counts the google.api.http rules of the descriptor set at
// path and their additional_bindings (nested ones included).
func CountBindings(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	var count func(r *annotations.HttpRule) int
	count = func(r *annotations.HttpRule) int {
		n := 1
		for _, a := range r.GetAdditionalBindings() {
			n += count(a)
		}
		return n
	}
	n := 0
	for _, f := range set.GetFile() {
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				if r, ok := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule); ok && r != nil && r.GetPattern() != nil {
					n += count(r)
				}
			}
		}
	}
	return n, nil
}

// Binding is one google.api.http rule or additional binding: its HTTP
// method (a custom pattern's kind) and path template, as written.
type Binding struct {
	Method, Template string
}

// Bindings returns every binding of the descriptor set at path with a
// pattern, in the order of its files, services and methods, each rule
// before its additional bindings.
func Bindings(path string) ([]Binding, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Binding
	var add func(r *annotations.HttpRule)
	add = func(r *annotations.HttpRule) {
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			out = append(out, Binding{"GET", p.Get})
		case *annotations.HttpRule_Put:
			out = append(out, Binding{"PUT", p.Put})
		case *annotations.HttpRule_Post:
			out = append(out, Binding{"POST", p.Post})
		case *annotations.HttpRule_Delete:
			out = append(out, Binding{"DELETE", p.Delete})
		case *annotations.HttpRule_Patch:
			out = append(out, Binding{"PATCH", p.Patch})
		case *annotations.HttpRule_Custom:
			out = append(out, Binding{p.Custom.GetKind(), p.Custom.GetPath()})
		}
		for _, a := range r.GetAdditionalBindings() {
			add(a)
		}
	}
	for _, f := range set.GetFile() {
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				if r, ok := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule); ok && r != nil {
					add(r)
				}
			}
		}
	}
	return out, nil
}
