// Command sut is the server under test that connectrpc's conformance
// runner (connectconformance --mode server) starts for each server
// configuration: a real `sluice serve` in front of the suite's reference
// server.
//
// The runner writes one ServerCompatRequest (size-prefixed protobuf) on
// stdin and waits for a ServerCompatResponse on stdout naming the host and
// port to call. sut starts the reference server (which speaks the same
// stdin/stdout protocol) as a plain gRPC server over h2c, whatever protocol
// the runner tests, starts sluice with the conformance service's
// descriptors and an upstream pointing at it, waits until sluice is ready,
// and answers with sluice's address. On SIGTERM (how the runner stops a
// server) it stops both. The child processes' logs go to --logs, if given.
//
//	connectconformance --mode server --conf grpc-web.yaml -- \
//	  sut --sluice .bin/sluice --referenceserver .bin/referenceserver \
//	      --descriptor-set gen/descriptors/conformance.binpb
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/sluice-dev/sluice/gen/conformance/conformancev1"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "sut: %v\n", err)
		os.Exit(1)
	}
}

// maxMessage bounds the size prefix of a message read from a pipe.
const maxMessage = 16 << 20

func run() error {
	sluice := flag.String("sluice", "", "path of the sluice binary")
	reference := flag.String("referenceserver", "", "path of the conformance suite's referenceserver binary")
	descriptors := flag.String("descriptor-set", "", "descriptor set of connectrpc.conformance.v1 (gen/descriptors/conformance.binpb)")
	logs := flag.String("logs", "", "directory for the logs of sluice and the reference server (default: discarded)")
	flag.Parse()
	if *sluice == "" || *reference == "" || *descriptors == "" {
		return errors.New("--sluice, --referenceserver and --descriptor-set are required")
	}
	req := &conformancev1.ServerCompatRequest{}
	if err := readMessage(os.Stdin, req); err != nil {
		return fmt.Errorf("read ServerCompatRequest: %w", err)
	}
	if req.GetUseTls() {
		return errors.New("TLS is not supported by this harness (set supports_tls: false)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	dir, err := os.MkdirTemp("", "sluice-conformance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logDir := *logs
	if logDir == "" {
		logDir = dir
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	tag := fmt.Sprintf("%s-%s-%d", req.GetProtocol(), req.GetHttpVersion(), os.Getpid())

	upHost, upPort, upCmd, err := startReference(*reference, req, filepath.Join(logDir, "reference-"+tag+".log"))
	if err != nil {
		return err
	}
	defer terminate(upCmd)

	conf := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(conf, []byte(sluiceConfig(req, *descriptors, net.JoinHostPort(upHost, strconv.Itoa(upPort)))), 0o600); err != nil {
		return err
	}
	gw, admin, gwCmd, err := startSluice(*sluice, conf, filepath.Join(logDir, "sluice-"+tag+".log"))
	if err != nil {
		return err
	}
	defer terminate(gwCmd)
	if err := waitReady(ctx, admin); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(gw)
	if err != nil {
		return err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	if err := writeMessage(os.Stdout, &conformancev1.ServerCompatResponse{Host: host, Port: uint32(p)}); err != nil {
		return fmt.Errorf("write ServerCompatResponse: %w", err)
	}
	exited := make(chan error, 2)
	go func() { exited <- fmt.Errorf("sluice exited: %w", gwCmd.Wait()) }()
	go func() { exited <- fmt.Errorf("reference server exited: %w", upCmd.Wait()) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-exited:
		return err
	}
}

// sluiceConfig is the gateway's configuration: the conformance service
// from its descriptors, routed to the reference server; the runner's
// message limit as the gateway's; a short drain, since the runner stops
// servers between configurations; and a deadline offset, as a gateway in
// front of clients with deadlines should have: the upstream's deadline
// falls 25ms before the client's, so the gateway's DEADLINE_EXCEEDED
// reaches the client before its own timer fires. Without it the two race,
// and the runner's client, which checks the error body it captured, saw an
// empty one once in a CI run (Timeouts, Connect, h2c, JSON, gzip).
func sluiceConfig(req *conformancev1.ServerCompatRequest, descriptors, upstream string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n")
	fmt.Fprintf(&b, "descriptor_sets: [%q]\n", descriptors)
	fmt.Fprintf(&b, "upstreams:\n  - name: reference\n    target: %q\n    methods: [\"connectrpc.conformance.v1.*\"]\n", upstream)
	fmt.Fprintf(&b, "server:\n  shutdown_grace: 1s\n")
	if n := req.GetMessageReceiveLimit(); n > 0 {
		fmt.Fprintf(&b, "  max_recv_msg_size: %d\n", n)
	}
	fmt.Fprintf(&b, "policy:\n  deadline:\n    offset: 25ms\n")
	fmt.Fprintf(&b, "log:\n  level: info\n  format: json\n")
	return b.String()
}

// startReference starts the reference server as a gRPC server over h2c,
// with the runner's message limit, and returns its address.
func startReference(path string, req *conformancev1.ServerCompatRequest, logPath string) (string, int, *exec.Cmd, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(path)
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start reference server: %w", err)
	}
	upReq := &conformancev1.ServerCompatRequest{
		Protocol:            conformancev1.Protocol_PROTOCOL_GRPC,
		HttpVersion:         conformancev1.HTTPVersion_HTTP_VERSION_2,
		MessageReceiveLimit: req.GetMessageReceiveLimit(),
	}
	if err := writeMessage(in, upReq); err != nil {
		terminate(cmd)
		return "", 0, nil, fmt.Errorf("reference server: %w", err)
	}
	resp := &conformancev1.ServerCompatResponse{}
	if err := readMessage(out, resp); err != nil {
		terminate(cmd)
		return "", 0, nil, fmt.Errorf("reference server's response: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return resp.GetHost(), int(resp.GetPort()), cmd, nil
}

// startSluice starts `sluice serve` and returns the gateway's and the
// admin port's addresses, read from its log as it reports them.
func startSluice(path, conf, logPath string) (gateway, admin string, cmd *exec.Cmd, err error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return "", "", nil, err
	}
	cmd = exec.Command(path, "serve", "--config", conf)
	cmd.SysProcAttr = childAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, fmt.Errorf("start sluice: %w", err)
	}
	lines := bufio.NewScanner(stderr)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for (gateway == "" || admin == "") && lines.Scan() {
		_, _ = logf.Write(append(lines.Bytes(), '\n'))
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(lines.Bytes(), &entry) != nil {
			continue
		}
		switch entry.Msg {
		case "gateway listening":
			gateway = entry.Addr
		case "admin listening":
			admin = entry.Addr
		}
	}
	if gateway == "" || admin == "" {
		terminate(cmd)
		return "", "", nil, fmt.Errorf("sluice did not report its addresses (log: %s)", logPath)
	}
	go func() { _, _ = io.Copy(logf, stderr) }()
	return gateway, admin, cmd, nil
}

// waitReady polls the admin port's readiness until sluice has its
// contracts and its upstream connection.
func waitReady(ctx context.Context, admin string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sluice never became ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// terminate stops a child: SIGTERM, then SIGKILL if it lingers.
func terminate(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_, _ = cmd.Process.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
	}
}

// readMessage reads one message as the conformance suite frames them on
// pipes: a 4-byte big-endian size, then the protobuf bytes.
func readMessage(r io.Reader, m proto.Message) error {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n > maxMessage {
		return fmt.Errorf("message of %d bytes is larger than %d", n, maxMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}

// writeMessage writes m framed as readMessage reads it.
func writeMessage(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err = w.Write(append(out, b...))
	return err
}
