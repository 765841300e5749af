package grpcweb

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func frameOf(flags byte, payload []byte) []byte {
	out := []byte{flags, 0, 0, 0, byte(len(payload))}
	return append(out, payload...)
}

// chunked yields b in reads of the given sizes, round robin: message
// prefixes, payloads and base64 quanta are split wherever they fall.
type chunked struct {
	b     []byte
	sizes []int
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.b))
	c.i++
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func readAll(t *testing.T, mr *messageReader) ([][]byte, error) {
	t.Helper()
	var out [][]byte
	for {
		m, err := mr.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestMessageReaderSplitReads(t *testing.T) {
	t.Parallel()
	body := append(append(frameOf(0, []byte("hello")), frameOf(0, nil)...), frameOf(0, []byte("world!"))...)
	for _, sizes := range [][]int{{1}, {2, 3}, {4, 7}, {len(body)}} {
		mr := &messageReader{r: &chunked{b: body, sizes: sizes}, max: 100}
		got, err := readAll(t, mr)
		if err != nil {
			t.Fatalf("reads of %v: %v", sizes, err)
		}
		if len(got) != 3 || string(got[0]) != "hello" || len(got[1]) != 0 || string(got[2]) != "world!" {
			t.Errorf("reads of %v: got %q, want hello, an empty message, world!", sizes, got)
		}
	}
}

func TestMessageReaderErrors(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte("a"), 1000))
	_ = zw.Close()
	for _, tc := range []struct {
		name string
		body []byte
		gzip bool
		want codes.Code
	}{
		{"oversized length prefix", []byte{0, 0xff, 0xff, 0xff, 0xff}, false, codes.ResourceExhausted},
		{"trailer frame in a request", frameOf(0x80, []byte("grpc-status: 0\r\n")), false, codes.Internal},
		{"unknown flags", frameOf(0x02, []byte("x")), false, codes.Internal},
		{"compressed without grpc-encoding", frameOf(0x01, []byte("x")), false, codes.Internal},
		{"prefix cut short", []byte{0, 0, 0}, false, codes.Internal},
		{"message cut short", []byte{0, 0, 0, 0, 9, 'a'}, false, codes.Internal},
		{"inflates past the limit", frameOf(0x01, gz.Bytes()), true, codes.ResourceExhausted},
		{"not gzip", frameOf(0x01, []byte("nope")), true, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mr := &messageReader{r: iotest.OneByteReader(bytes.NewReader(tc.body)), max: 100, gzip: tc.gzip}
			_, err := readAll(t, mr)
			if status.Code(err) != tc.want {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMessageReaderGzip(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("compressed"))
	_ = zw.Close()
	body := append(frameOf(0x01, gz.Bytes()), frameOf(0, []byte("plain"))...)
	got, err := readAll(t, &messageReader{r: bytes.NewReader(body), max: 100, gzip: true})
	if err != nil || len(got) != 2 || string(got[0]) != "compressed" || string(got[1]) != "plain" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestBase64ReaderChunkBoundaries(t *testing.T) {
	t.Parallel()
	raw := append(frameOf(0, []byte("hello")), frameOf(0, []byte("grpc-web-text"))...)
	whole := base64.StdEncoding.EncodeToString(raw)
	// Each message encoded on its own, padded, as clients may send them.
	pieces := base64.StdEncoding.EncodeToString(raw[:10]) + base64.StdEncoding.EncodeToString(raw[10:])
	for _, text := range []string{whole, pieces, whole[:8] + "\r\n" + whole[8:]} {
		for _, sizes := range [][]int{{1}, {3}, {5, 2}, {len(text)}} {
			got, err := io.ReadAll(newBase64Reader(&chunked{b: []byte(text), sizes: sizes}))
			if err != nil {
				t.Fatalf("%q in reads of %v: %v", text, sizes, err)
			}
			if !bytes.Equal(got, raw) {
				t.Errorf("%q in reads of %v: decoded %q, want %q", text, sizes, got, raw)
			}
		}
	}
}

func TestBase64ReaderInvalid(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"AAE*", "AA", "A=AA", "AAAAA"} {
		_, err := io.ReadAll(newBase64Reader(iotest.OneByteReader(bytes.NewReader([]byte(text)))))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%q: %v, want INVALID_ARGUMENT", text, err)
		}
	}
}

func FuzzFraming(f *testing.F) {
	f.Add([]byte(base64.StdEncoding.EncodeToString(frameOf(0, []byte("x")))), 3)
	f.Add(frameOf(0x80, nil), 1)
	f.Fuzz(func(t *testing.T, body []byte, size int) {
		size = max(1, size%64)
		mr := &messageReader{r: newBase64Reader(&chunked{b: body, sizes: []int{size}}), max: 1 << 10, gzip: true}
		for range 100 {
			m, err := mr.next()
			if err != nil {
				if _, ok := status.FromError(err); !ok && !errors.Is(err, io.EOF) {
					t.Fatalf("error %v is not a status", err)
				}
				return
			}
			if len(m) > 1<<10 {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
		}
	})
}

// After the body's end, lookahead never reads the body again: over
// HTTP/1.1 a read after the response started fails ("invalid Read on
// closed Body"), and the proxy may ask for another message after EOF.
func TestLookaheadEndIsSticky(t *testing.T) {
	reads := 0
	msgs := [][]byte{[]byte("one")}
	next := lookahead(func() ([]byte, error) {
		reads++
		if reads > 2 {
			return nil, errors.New("body read after its end")
		}
		if len(msgs) > 0 {
			m := msgs[0]
			msgs = msgs[1:]
			return m, nil
		}
		return nil, io.EOF
	})
	if m, err := next(); err != nil || string(m) != "one" {
		t.Fatalf("first: %q, %v", m, err)
	}
	for i := range 3 {
		if _, err := next(); err != io.EOF {
			t.Fatalf("call %d after the message: %v, want io.EOF", i+2, err)
		}
	}
	if reads != 2 {
		t.Errorf("the body was read %d times, want 2 (the message, then its end)", reads)
	}
}
