package ics

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// foldWriter folds the content lines written to it at 75 octets
// (../rfc/5545:3.1 "Lines of text SHOULD NOT be longer than 75 octets,
// excluding the line break"), never inside a UTF-8 sequence; a
// continuation line starts with one space, which counts toward its 75.
// go-ical's Encoder writes whole lines and does not fold. Lines must end in
// CRLF; Close-less: the last line must be complete.
type foldWriter struct {
	w   io.Writer
	buf []byte // the incomplete current line
	out bytes.Buffer
}

const foldAt = 75

func (f *foldWriter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	for {
		i := bytes.Index(f.buf, []byte("\r\n"))
		if i < 0 {
			break
		}
		f.fold(f.buf[:i])
		f.buf = f.buf[i+2:]
	}
	if f.out.Len() > 0 {
		_, err := f.w.Write(f.out.Bytes())
		f.out.Reset()
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (f *foldWriter) fold(line []byte) {
	limit := foldAt
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		if cut == 0 {
			cut = limit
		}
		f.out.Write(line[:cut])
		f.out.WriteString("\r\n ")
		line = line[cut:]
		limit = foldAt - 1
	}
	f.out.Write(line)
	f.out.WriteString("\r\n")
}
