package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
)

// loadContracts builds the snapshot serve would start with: the embedded
// demo's contracts when no input names any, the descriptor sets otherwise.
func loadContracts(in *inputs, cfg *config.Config) (*registry.Snapshot, error) {
	var linked []registry.Source
	if in.demo() {
		linked = append(linked, demoContracts()...)
	}
	reg, err := newRegistry(fileSources(cfg, linked))
	if err != nil {
		return nil, err
	}
	return reg.Snapshot(), nil
}

// docsCommand runs `sluice routes` and `sluice openapi`: the same inputs as
// serve, printing the REST route table or the OpenAPI document.
func docsCommand(name string, args []string, stdout, stderr io.Writer) int {
	var in inputs
	fs := newFlagSet(name, stderr)
	in.register(fs)
	if err := in.parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 2
	}
	cfg, err := in.load()
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: invalid configuration:\n%v\n", name, err)
		return 1
	}
	snap, err := loadContracts(&in, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 1
	}
	switch name {
	case "routes":
		err = openapi.WriteRoutes(stdout, snap)
	case "openapi":
		var doc []byte
		doc, err = openAPIDocument(cfg, snap)
		if err == nil {
			_, err = stdout.Write(append(doc, '\n'))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 1
	}
	return 0
}

func openAPIOptions(cfg *config.Config) []openapi.Option {
	return []openapi.Option{
		openapi.WithProtoNames(cfg.REST.ProtoNames),
		openapi.WithEnumNumbers(cfg.REST.EnumNumbers),
	}
}

func openAPIDocument(cfg *config.Config, snap *registry.Snapshot) ([]byte, error) {
	doc, err := openapi.Generate(snap, openAPIOptions(cfg)...)
	if err != nil {
		return nil, err
	}
	return openapi.Marshal(doc)
}
