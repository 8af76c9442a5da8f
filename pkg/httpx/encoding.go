package httpx

import (
	"net/http"
	"strconv"
	"strings"
)

// CompressMinLength is the size from which the HTTP services compress an answer (when the client
// accepts gzip): below it the bytes saved do not pay for the compression and its framing.
const CompressMinLength = 1024

// AcceptsGzip reports whether an Accept-Encoding header admits gzip (RFC 9110 12.5.3): gzip (or
// its alias x-gzip) named with a q-value above 0. "*" is not taken as gzip, so a client that
// names no coding gets the identity it can certainly read.
func AcceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				v = 0 // a malformed weight admits nothing
			}
			q = v
		}
		if q > 0 {
			return true
		}
	}
	return false
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
