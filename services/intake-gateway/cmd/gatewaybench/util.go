package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// bufWriter is a bufio.Writer that remembers its first error.
type bufWriter struct {
	w   *bufio.Writer
	err error
}

func newBufWriter(w io.Writer) *bufWriter { return &bufWriter{w: bufio.NewWriterSize(w, 1<<20)} }

func (b *bufWriter) str(s string) {
	if b.err == nil {
		_, b.err = b.w.WriteString(s)
	}
}

func (b *bufWriter) flush() error {
	if b.err != nil {
		return b.err
	}
	return b.w.Flush()
}
