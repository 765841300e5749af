package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-dev/sluice/config"
)

// inputs are the flags shared by serve and validate.
type inputs struct {
	configFile     string
	listen         string
	admin          string
	descriptorSets stringList
	protos         stringList
	upstreams      stringList
	logLevel       string
	logFormat      string
	set            map[string]bool // flags given on the command line
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func (in *inputs) register(fs *flag.FlagSet) {
	fs.StringVar(&in.configFile, "config", "", "YAML configuration `file` (see docs/configuration.md)")
	fs.StringVar(&in.listen, "listen", "", "`address` of the one port for gRPC (h2c, or TLS with ALPN), gRPC-Web (application/grpc-web and grpc-web-text, +proto or +json), Connect (unary POST and GET, streams; proto or JSON) and REST/JSON, on HTTP/1.1 and HTTP/2 (default 127.0.0.1:8080)")
	fs.StringVar(&in.admin, "admin", "", "`address` of the admin server (/healthz, /readyz); \"off\" disables it (default 127.0.0.1:9090)")
	fs.Var(&in.descriptorSets, "descriptor-set", "descriptor set `file` (buf build -o); repeatable; replaces the file's descriptor_sets")
	fs.Var(&in.protos, "proto", "`DIR_OR_FILE` of .proto sources, compiled at start and whenever they change; repeatable; replaces the file's contracts.proto roots and files")
	fs.Var(&in.upstreams, "upstream", "`PATTERN=TARGET` route, e.g. 'library.v1.*=127.0.0.1:50051'; repeatable; replaces the file's upstreams")
	fs.StringVar(&in.logLevel, "log-level", "", "log `level`: debug, info, warn, error")
	fs.StringVar(&in.logFormat, "log-format", "", "log `format`: json or text")
}

func (in *inputs) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	in.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { in.set[f.Name] = true })
	return nil
}

// demo reports whether serve should run the embedded demo: no contract or
// upstream source was named.
func (in *inputs) demo() bool {
	return !in.set["config"] && !in.set["descriptor-set"] && !in.set["proto"] && !in.set["upstream"]
}

// load builds the configuration: defaults, then the file, then flags,
// which replace the file's values. Every problem is reported at once.
func (in *inputs) load() (*config.Config, error) {
	var cfg *config.Config
	if in.configFile != "" {
		c, err := config.Load(in.configFile)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		d := config.Default()
		cfg = &d
	}
	var errs config.Errors
	if in.set["listen"] {
		cfg.Listen = in.listen
	}
	if in.set["admin"] {
		cfg.Admin = in.admin
		if in.admin == "off" {
			cfg.Admin = ""
		}
	}
	if in.set["descriptor-set"] {
		cfg.DescriptorSets = append([]string(nil), in.descriptorSets...)
	}
	if in.set["proto"] {
		cfg.Contracts.Proto.Roots = append([]string(nil), in.protos...)
		cfg.Contracts.Proto.Files = nil
	}
	if in.set["upstream"] {
		cfg.Upstreams = nil
		for i, s := range in.upstreams {
			up, err := config.ParseUpstreamFlag(s)
			if err != nil {
				errs = append(errs, config.Error{Source: "--upstream", Path: fmt.Sprintf("upstreams[%d]", i), Msg: err.Error()})
				continue
			}
			cfg.Upstreams = append(cfg.Upstreams, up)
		}
		cfg.Upstreams = mergeUpstreams(cfg.Upstreams)
	}
	if in.set["log-level"] {
		cfg.Log.Level = config.LogLevel(in.logLevel)
	}
	if in.set["log-format"] {
		cfg.Log.Format = config.LogFormat(in.logFormat)
	}
	if err := cfg.Validate(); err != nil {
		var ve config.Errors
		if errors.As(err, &ve) {
			errs = append(errs, ve...)
		} else {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// mergeUpstreams folds --upstream flags naming the same target into one
// upstream, so one connection serves all their patterns.
func mergeUpstreams(ups []config.Upstream) []config.Upstream {
	var out []config.Upstream
	index := map[string]int{}
	for _, u := range ups {
		if i, ok := index[u.Target]; ok {
			out[i].Methods = append(out[i].Methods, u.Methods...)
			continue
		}
		index[u.Target] = len(out)
		out = append(out, u)
	}
	return out
}
