package secrets

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
	"sync"
)

// Placeholder is what a Redactor shows instead of a secret.
const Placeholder = "<redacted>"

// MinRedactLen is the length under which values are not redacted: replacing
// every "on" or "1" would garble output and protect nothing.
const MinRedactLen = 4

// Redactor replaces secret values with Placeholder. The zero value and nil
// redact nothing. It is safe for concurrent use.
//
// Besides each value, it redacts the value as escaped inside a JSON string
// (when that differs, e.g. for values with quotes or '<'), so JSON output is
// covered too. Overlapping and adjacent occurrences become one Placeholder,
// so no part of any secret survives.
type Redactor struct {
	mu   sync.RWMutex
	vals [][]byte // longest first; replaced, never modified, by Add
}

// NewRedactor returns a Redactor for values; values shorter than
// MinRedactLen bytes are ignored.
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add adds values to redact; values shorter than MinRedactLen bytes are
// ignored. Streams from Writer pick them up from their next Write.
func (r *Redactor) Add(values ...string) {
	var add [][]byte
	for _, v := range values {
		if len(v) < MinRedactLen {
			continue
		}
		add = append(add, []byte(v))
		add = append(add, jsonForms(v)...)
	}
	if len(add) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	vals := append(slices.Clone(r.vals), add...)
	slices.SortFunc(vals, func(a, b []byte) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return bytes.Compare(a, b)
	})
	r.vals = slices.CompactFunc(vals, bytes.Equal)
}

// jsonForms returns v as encoding/json writes it inside a string, with and
// without HTML escaping, where that differs from v.
func jsonForms(v string) [][]byte {
	var forms [][]byte
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) != nil {
			continue
		}
		f := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		f = f[1 : len(f)-1] // the quotes
		if string(f) != v {
			forms = append(forms, f)
		}
	}
	return forms
}

func (r *Redactor) snapshot() [][]byte {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.vals
}

// Redact returns s with every occurrence of a secret replaced by Placeholder.
func (r *Redactor) Redact(s string) string {
	vals := r.snapshot()
	b := []byte(s)
	found := false
	for _, v := range vals {
		if bytes.Contains(b, v) {
			found = true
			break
		}
	}
	if !found {
		return s
	}
	var st scanState
	out, _ := redact(nil, b, vals, true, &st)
	return string(out)
}

// Writer returns a writer that writes to w what is written to it, redacted,
// even when a secret is split across Write calls. To catch such secrets it
// holds back the end of the data written while it might be the start of a
// secret (at most the longest secret's length minus one byte), until more
// data or Close: the returned writer implements io.Closer, and Close writes
// that tail out. (WriteCloser returns the same with that type.) Writes are
// serialized; concurrent writers interleave whole Write calls.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	return r.WriteCloser(w)
}

// WriteCloser is Writer, typed for what it is: Close writes out the data
// held back and does not close w. Write after Close fails with os.ErrClosed.
func (r *Redactor) WriteCloser(w io.Writer) io.WriteCloser {
	return &redactWriter{r: r, w: w}
}

type redactWriter struct {
	r       *Redactor
	w       io.Writer
	mu      sync.Mutex
	pending []byte // held back: might be the start of a secret
	out     []byte // reused output buffer
	st      scanState
	err     error // sticky: the stream is broken after a failed write
}

func (w *redactWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	buf := p
	if len(w.pending) > 0 {
		buf = append(w.pending, p...)
	}
	var n int
	w.out, n = redact(w.out[:0], buf, w.r.snapshot(), false, &w.st)
	w.pending = append(w.pending[:0], buf[n:]...) // may overlap buf: append moves
	if err := w.emit(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *redactWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		if w.err == os.ErrClosed {
			return nil
		}
		return w.err
	}
	w.out, _ = redact(w.out[:0], w.pending, w.r.snapshot(), true, &w.st)
	w.pending = w.pending[:0]
	err := w.emit()
	w.err = os.ErrClosed
	return err
}

func (w *redactWriter) emit() error {
	if len(w.out) == 0 {
		return nil
	}
	n, err := w.w.Write(w.out)
	if err == nil && n < len(w.out) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
	}
	return err
}

// scanState carries a redaction across the pieces of a stream.
type scanState struct {
	carry  int  // leading bytes of the next piece covered by a secret begun before it
	masked bool // the output so far ends with Placeholder
}

// redact appends to out the redaction of the part of buf that is settled and
// returns the number of bytes of buf it consumed. Unless final, it stops
// where the rest of buf might be the start of a secret: an occurrence that
// starts in the consumed part then lies wholly within buf. Bytes covered by
// any occurrence are masked; each run of masked bytes becomes one
// Placeholder, also across pieces.
func redact(out, buf []byte, vals [][]byte, final bool, st *scanState) ([]byte, int) {
	cut := len(buf)
	if !final {
	scan:
		for i := max(0, len(buf)-maxLen(vals)+1); i < len(buf); i++ {
			for _, v := range vals {
				if len(v) > len(buf)-i && bytes.HasPrefix(v, buf[i:]) {
					cut = i
					break scan
				}
			}
		}
	}
	mask := make([]bool, cut)
	end := st.carry // the furthest end of an occurrence starting before cut
	for i := range min(end, cut) {
		mask[i] = true
	}
	for _, v := range vals {
		for off := 0; ; {
			j := bytes.Index(buf[off:], v)
			if j < 0 || off+j >= cut {
				break
			}
			start := off + j
			for k := start; k < min(start+len(v), cut); k++ {
				mask[k] = true
			}
			end = max(end, start+len(v))
			off = start + 1
		}
	}
	for i := 0; i < cut; {
		if !mask[i] {
			k := i
			for k < cut && !mask[k] {
				k++
			}
			out = append(out, buf[i:k]...)
			st.masked = false
			i = k
			continue
		}
		if !st.masked {
			out = append(out, Placeholder...)
		}
		st.masked = true
		for i < cut && mask[i] {
			i++
		}
	}
	st.carry = max(0, end-cut)
	return out, cut
}

func maxLen(vals [][]byte) int {
	if len(vals) == 0 {
		return 0
	}
	return len(vals[0])
}
