package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// startGateway runs a gateway that routes "test.*" to upstream through
// chain, and returns a client connection to it.
func startGateway(t *testing.T, upstream string, chain ...grpc.StreamServerInterceptor) *grpc.ClientConn {
	t.Helper()
	return gatewaytest.Dial(t, gatewaytest.StartGateway(t, gatewaytest.Route(upstream, "test.*"), chain...).Addr)
}

// call makes one unary call of method with the metadata pairs kv and
// returns the response header metadata and the error.
func call(cc *grpc.ClientConn, method string, kv ...string) (metadata.MD, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	var hdr metadata.MD
	err := cc.Invoke(ctx, method, wrapperspb.String("hi"), new(wrapperspb.StringValue), grpc.Header(&hdr))
	return hdr, err
}

// redisServer is a redis-server process of the test's own, on a free
// loopback port, without persistence.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server, or skips the test when the binary is
// missing outside CI (in CI, a missing binary fails the test).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("redis-server not installed (apt-get install redis-server); skipping the Redis tests outside CI")
		}
		t.Fatal("redis-server not installed, and CI is set: the Redis tests must run")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	r := &redisServer{t: t, port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second) // a bound for failure: a loaded machine starts processes slowly
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not come up: %v", r.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server and waits until it is gone; it is a no-op when
// the server is not running.
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

func (r *redisServer) String() string { return fmt.Sprintf("redis-server %s", r.addr()) }
