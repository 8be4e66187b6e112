package textcodec

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// LineOctets is the longest content line, excluding its CRLF: RFC 5545
// 3.1 and RFC 6350 3.2 "Lines of text SHOULD NOT be longer than 75
// octets, excluding the line break".
const LineOctets = 75

// Fold appends line to dst, folded so that no physical line exceeds
// LineOctets octets, and ends it with CRLF. A continuation line starts
// with one space, which counts toward its 75 octets. The line is cut only
// between units, where a unit is one valid UTF-8 sequence or one byte that
// is not part of one: a UTF-8 character is never split, and every unit is
// at most 4 octets, so each physical line takes at least 71 octets of the
// input and Fold terminates on any input. Unfolding (removing every CRLF
// followed by one space) gives back line exactly, bytes that are not UTF-8
// included.
func Fold(dst []byte, line string) []byte {
	limit := LineOctets
	for len(line) > limit {
		cut := 0
		for {
			_, n := utf8.DecodeRuneInString(line[cut:]) // n is 1 for an invalid byte
			if cut+n > limit {
				break
			}
			cut += n
		}
		dst = append(dst, line[:cut]...)
		dst = append(dst, "\r\n "...)
		line = line[cut:]
		limit = LineOctets - 1
	}
	dst = append(dst, line...)
	return append(dst, "\r\n"...)
}

// FoldWriter folds the content lines written to it with [Fold]. Each line
// must end in CRLF; bytes after the last CRLF are held until the line is
// complete, so a caller must finish its last line. It is not safe for
// concurrent use.
type FoldWriter struct {
	w   io.Writer
	buf []byte // the incomplete current line
	out []byte
}

// NewFoldWriter returns a FoldWriter writing to w.
func NewFoldWriter(w io.Writer) *FoldWriter { return &FoldWriter{w: w} }

// Write folds every complete line of p (and of what earlier writes left)
// and writes them to the underlying writer.
func (f *FoldWriter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	rest := f.buf
	for {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			break
		}
		f.out = Fold(f.out, string(rest[:i]))
		rest = rest[i+2:]
	}
	f.buf = append(f.buf[:0], rest...)
	if len(f.out) > 0 {
		_, err := f.w.Write(f.out)
		f.out = f.out[:0]
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
