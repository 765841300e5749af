package frontdoor_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/server/frontdoor"
)

// pipeListener accepts the server ends of net.Pipes made by dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, bool) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, true
	case <-l.done:
		return nil, false
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// FuzzDoor feeds arbitrary bytes to a door: it must neither panic nor keep
// a connection open past its limits, whatever side it picks.
func FuzzDoor(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
	f.Add(new(frames).preface().settings().headers(0, "content-type", "application/grpc").ack().wire.Bytes())
	f.Add(new(frames).preface().settings().ack().headers(3, "content-type", "application/grpc-web").wire.Bytes())
	f.Add(new(frames).preface().settings().ping().windowUpdate().headers(0).ack().wire.Bytes())
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\x01\x04\x00\x00\x00\x01"))

	ln := newPipeListener()
	door, err := frontdoor.New(ln, frontdoor.WithSniffTimeout(100*time.Millisecond))
	if err != nil {
		f.Fatal(err)
	}
	hs := &http.Server{
		Handler:     http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		ReadTimeout: 200 * time.Millisecond,
		IdleTimeout: 200 * time.Millisecond,
		ErrorLog:    discardLog(),
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = door.Serve() }()
	go func() { defer wg.Done(); _ = door.ServeHTTP(hs) }()
	go func() {
		defer wg.Done()
		for {
			c, err := door.GRPC().Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	f.Cleanup(func() {
		_ = door.Close()
		wg.Wait()
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		c, ok := ln.dial()
		if !ok {
			t.Skip("door closed")
		}
		defer c.Close()
		go func() { _, _ = c.Write(data) }()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection still open after 5s")
		}
	})
}
