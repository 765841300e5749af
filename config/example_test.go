package config_test

import (
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/config"
)

func ExampleParse() {
	cfg, err := config.Parse([]byte(`
listen: ":8080"
upstreams:
  - name: library
    target: dns:///library:50051
    methods: ["sluice.demo.library.v1.*"]
`), "sluice.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	u := cfg.Upstreams[0]
	fmt.Println(cfg.Listen, u.Name, u.Target, u.Methods, u.LoadBalancing, u.ConnectTimeout)
	fmt.Println(cfg.Server.MaxRecvMsgSize, cfg.Server.Keepalive.Time)
	// Output:
	// :8080 library dns:///library:50051 [sluice.demo.library.v1.*] round_robin 20s
	// 4MiB 2h
}

func ExampleParse_errors() {
	_, err := config.Parse([]byte(`
listen: ":8080"
upstreams:
  - target: ""
    methods: ["library.v1.*"]
  - target: library:50051
    mehtods: ["library.v1.*"]
server:
  max_recv_msg_size: 4 megabytes
`), "sluice.yaml")
	var errs *config.Errors
	if errors.As(err, &errs) {
		for _, e := range *errs {
			fmt.Println(e)
		}
	}
	// Output:
	// sluice.yaml:4:13: upstreams[0].target: must not be empty
	// sluice.yaml:6:5: upstreams[1].methods: must list at least one method pattern ("*" routes every method)
	// sluice.yaml:7:5: upstreams[1].mehtods: unknown key; did you mean "methods"?
	// sluice.yaml:9:22: server.max_recv_msg_size: must be a size like "4MiB", "512KiB", "1GB" or a number of bytes, got "4 megabytes"
}

func ExampleParseUpstreamFlag() {
	u, err := config.ParseUpstreamFlag("sluice.demo.library.v1.*,grpc.health.v1.Health=127.0.0.1:50051")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Target, u.Methods)

	_, err = config.ParseUpstreamFlag("/library.v1.Library/GetBook=library")
	fmt.Println(err)
	// Output:
	// 127.0.0.1:50051 [sluice.demo.library.v1.* grpc.health.v1.Health]
	// upstream "/library.v1.Library/GetBook=library": method pattern "/library.v1.Library/GetBook" must not contain "/": write methods as package.Service.Method; target must be host:port, got "library"
}
