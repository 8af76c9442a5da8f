package httpx

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// CompressMinLength is the size from which the HTTP services compress an answer (when the client
// accepts gzip): below it the bytes saved do not pay for the compression and its framing.
const CompressMinLength = 1024

// gzipWrapper is the compressing middleware of Compress, built once (its pools are shared).
var gzipWrapper = func() func(http.Handler) http.HandlerFunc {
	w, err := gzhttp.NewWrapper(gzhttp.MinSize(CompressMinLength), gzhttp.EnableZstd(false))
	if err != nil {
		panic("httpx: gzip wrapper: " + err.Error())
	}
	return w
}()

// Compress wraps h so that an answer of CompressMinLength bytes and more goes out gzipped to a
// client whose Accept-Encoding admits gzip (q-values honoured, "gzip;q=0" refuses it). It uses
// klauspost/compress's gzhttp, which holds a short answer back until it knows its size and sends
// it as it is without ever starting a compressor, so the many small answers (a webhook's 202, a
// problem, one lead) cost a buffer copy and no more. Every answer says Vary: Accept-Encoding; a
// compressed one has no Content-Length and sends a strong ETag as a weak one
// (WeakETagWhenEncoded), which If-None-Match still matches. An answer to HEAD is never
// compressed (gzhttp leaves HEAD alone): its header fields are those of the uncompressed GET.
// Flushes pass through, so a streamed answer still streams.
func Compress(h http.Handler) http.Handler {
	g := gzipWrapper(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g(WeakETagWhenEncoded(w), r)
	})
}

// WeakETagWhenEncoded wraps w so that a strong ETag goes out weak (W/"...") on a response sent
// with a Content-Encoding. A strong validator names exact bytes (RFC 9110 8.8.1), and the gzip
// bytes are not the bytes it was computed over; the weak form still matches If-None-Match, which
// compares weakly, so revalidation keeps working for both codings. Wrap the writer beneath a
// compressing middleware: the header is looked at when the status is written, after the
// middleware has decided on the coding.
func WeakETagWhenEncoded(w http.ResponseWriter) http.ResponseWriter {
	return &etagWriter{ResponseWriter: w}
}

type etagWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *etagWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		h := w.Header()
		if etag := h.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") && h.Get("Content-Encoding") != "" {
			h.Set("ETag", "W/"+etag)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *etagWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered, the header first; a streaming handler flushes through it.
func (w *etagWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (deadlines, hijacking).
func (w *etagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
