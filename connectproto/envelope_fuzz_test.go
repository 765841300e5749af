package connectproto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzEnvelopeReader feeds arbitrary request bodies to the envelope
// reader: it must end with io.EOF or an error, never return a message
// over the limit, and never panic.
func FuzzEnvelopeReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Add([]byte{0x02, 0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0x01, 0, 0, 0, 1, 0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	const max = 1 << 10
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, gz := range []*gzipCodec{nil, {}} {
			er := &envelopeReader{body: bytes.NewReader(body), max: max, gz: gz}
			for range len(body) + 1 {
				msg, err := er.next()
				if err != nil {
					if errors.Is(err, io.EOF) && len(msg) != 0 {
						t.Fatal("a message with io.EOF")
					}
					break
				}
				if len(msg) > max {
					t.Fatalf("message of %d bytes over the limit %d", len(msg), max)
				}
			}
		}
	})
}
