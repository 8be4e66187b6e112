package eml

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"crmbridge/bridge/item"
	"crmbridge/crm"
)

// MboxVariant says how body lines starting with "From " were quoted by the
// program that wrote an mbox file, and so how to un-quote them.
type MboxVariant int

const (
	// MboxRD (the default) removes one '>' from every line matching
	// ^>+From (mboxrd; for mboxo files it is the same except for lines
	// that had a literal ">From " before quoting).
	MboxRD MboxVariant = iota
	// MboxO removes the '>' from lines matching ^>From only (mboxo and
	// mboxcl).
	MboxO
	// MboxCL2 leaves body lines as they are (mboxcl2: bodies are
	// delimited by Content-Length and never quoted).
	MboxCL2
)

const bufSize = 64 << 10

// MboxReader reads the messages of an mbox file one at a time, in bounded
// memory: one message (at most MaxMessageSize bytes) is held at a time. It
// implements item.Reader and yields Incoming values of Source.Kind "mbox"
// with positions "<name>: message N".
//
// A message starts at a line beginning with "From " (RFC 4155) that looks
// like an envelope line ("From ", "From -", "From - date", "From addr
// date" with a time of day) and is followed by a header field, so body
// lines such as "From Russia with love" written unquoted by Thunderbird do
// not split a message. A Content-Length header is trusted when the
// next message (or the end of the file) starts exactly where it says, so
// Content-Length files with unquoted "From " lines read correctly; when
// it does not, the message is delimited by lines. A UTF-8 byte order mark
// before the first line is skipped.
//
// Warnings are returned as with Reader: by the calls to Next that follow
// the message they belong to.
type MboxReader struct {
	// Variant selects the un-quoting of ">From " lines; set it before the
	// first call to Next.
	Variant MboxVariant
	// MaxMessageSize overrides DefaultMaxMessageSize when positive.
	MaxMessageSize int64

	src     io.Reader
	pb      *bytes.Reader // bytes pushed back by a failed Content-Length read
	br      *bufio.Reader
	name    string
	n       int
	started bool
	from    []byte // the separator line of the next message, nil at EOF
	pending []error
	last    int // the size of the last message read (readMessage's first buffer)
}

var _ item.Reader = (*MboxReader)(nil)

// NewMboxReader returns an MboxReader of r; name (the file name) is used in
// positions.
func NewMboxReader(r io.Reader, name string) *MboxReader {
	return &MboxReader{src: r, br: bufio.NewReaderSize(r, bufSize), name: name}
}

func (r *MboxReader) max() int64 {
	if r.MaxMessageSize > 0 {
		return r.MaxMessageSize
	}
	return DefaultMaxMessageSize
}

// readLine returns the next line with its line ending, or a chunk of at most
// bufSize bytes of a longer line (complete false). The slice is valid until
// the next read.
func (r *MboxReader) readLine() (line []byte, complete bool, err error) {
	line, err = r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return line, false, nil
	}
	if err == io.EOF && len(line) > 0 {
		return line, true, nil
	}
	return line, err == nil, err
}

// nextIsHeader reports whether the line after the current position is a
// header field.
func (r *MboxReader) nextIsHeader() bool {
	b, _ := r.br.Peek(256)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	}
	return isHeaderLine(b)
}

var reTime = regexp.MustCompile(`\d{1,2}:\d{2}`)

// looksLikeEnvelope reports whether a "From " line has the shape of an
// envelope line: "From -", "From - date" (Netscape, Thunderbird) or
// "From sender date" with a time of day.
func looksLikeEnvelope(line []byte) bool {
	rest := strings.TrimSpace(string(line[5:]))
	if rest == "" || rest == "-" || strings.HasPrefix(rest, "- ") {
		return true
	}
	return len(strings.Fields(rest)) >= 3 && reTime.MatchString(rest)
}

func isBlank(line []byte) bool {
	return len(bytes.TrimRight(line, "\r\n")) == 0
}

// isSeparator reports whether line (complete, at a line start) begins a new
// message.
//
// A blank line before it is not required: Content-Length writers (Netscape,
// Solaris) put none.
func (r *MboxReader) isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	return looksLikeEnvelope(line) && r.nextIsHeader()
}

// unquote removes the mbox quoting of a body line.
func (r *MboxReader) unquote(line []byte) []byte {
	switch r.Variant {
	case MboxCL2:
		return line
	case MboxO:
		if bytes.HasPrefix(line, []byte(">From ")) {
			return line[1:]
		}
		return line
	}
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	if i > 0 && bytes.HasPrefix(line[i:], []byte("From ")) {
		return line[1:]
	}
	return line
}

// start skips a byte order mark and whatever precedes the first separator.
func (r *MboxReader) start() error {
	r.started = true
	if b, _ := r.br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		r.br.Discard(3)
	}
	skipped := 0
	lineNo := 0
	atStart := true
	for {
		line, complete, err := r.readLine()
		if len(line) > 0 {
			if atStart {
				lineNo++
			}
			if atStart && complete && bytes.HasPrefix(line, []byte("From ")) {
				line = append([]byte(nil), line...) // Peek may move the buffer
			}
			if atStart && complete && bytes.HasPrefix(line, []byte("From ")) && (lineNo == 1 || r.isSeparator(line)) {
				r.from = line
				if skipped > 0 {
					r.pending = append(r.pending, item.Errorf(r.name, "%d line(s) before the first \"From \" line skipped", skipped))
				}
				return nil
			}
			if atStart && !isBlank(line) {
				skipped++
			}
			atStart = complete
		}
		if err == io.EOF {
			if skipped > 0 {
				r.pending = append(r.pending, item.Errorf(r.name, "not an mbox file: no \"From \" line starts a message (%d line(s) skipped)", skipped))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", r.name, err)
		}
	}
}

// Next returns the next message, or a warning of the previous one, or
// io.EOF after the last. A *item.Error without an Incoming is a message
// that could not be read (too large, empty); any other error means the
// file cannot be read further.
func (r *MboxReader) Next() (*crm.Incoming, error) {
	if len(r.pending) > 0 {
		err := r.pending[0]
		r.pending = r.pending[1:]
		return nil, err
	}
	if !r.started {
		if err := r.start(); err != nil {
			return nil, err
		}
		if len(r.pending) > 0 {
			return r.Next()
		}
	}
	if r.from == nil {
		return nil, io.EOF
	}
	r.n++
	pos := r.name + ": message " + strconv.Itoa(r.n)
	envelope := envelopeDate(string(r.from))
	raw, err := r.readMessage()
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, item.Errorf(pos, "message larger than %d bytes: skipped", r.max())
	}
	inc, warns, perr := parseMessage(raw, "mbox", pos, envelope)
	if perr != nil {
		r.pending = warns
		return nil, perr
	}
	r.pending = kept(warns)
	return inc, nil
}

// readMessage reads the lines of the current message up to the next
// separator (stored in r.from) or the end of the file. It returns nil
// bytes for a message over the size limit.
func (r *MboxReader) readMessage() ([]byte, error) {
	r.from = nil
	max := r.max()
	// A buffer of the last message's size and an eighth, as messages of one
	// mbox are alike: growing from nothing allocated 3.8 times the file
	// (60 % of the reader's bytes).
	buf := make([]byte, 0, min(int64(r.last+r.last/8+512), max))
	oversized := false
	inHeader := true
	contentLength := int64(-1)
	prevBlank := false
	atStart := true
	add := func(b []byte) {
		if oversized {
			return
		}
		if int64(len(buf)+len(b)) > max {
			oversized, buf = true, nil
			return
		}
		buf = append(buf, b...)
	}
	for {
		line, complete, err := r.readLine()
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", r.name, err)
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		if atStart && complete && bytes.HasPrefix(line, []byte("From ")) {
			line = append([]byte(nil), line...) // Peek may move the buffer
			if r.isSeparator(line) {
				r.from = line
				if prevBlank && !oversized {
					buf = trimBlankLine(buf)
				}
				break
			}
		}
		if inHeader && atStart {
			if isBlank(line) {
				inHeader = false
				add(line)
				if contentLength >= 0 && !oversized {
					ok, err := r.readByLength(contentLength, add)
					if err != nil {
						return nil, err
					}
					if ok {
						break
					}
				}
				prevBlank, atStart = true, complete
				continue
			}
			if v, ok := cutHeader(line, "Content-Length"); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
					contentLength = n
				}
			}
			add(line)
		} else if atStart {
			add(r.unquote(line))
		} else {
			add(line)
		}
		prevBlank = complete && atStart && isBlank(line)
		atStart = complete
		if err == io.EOF {
			break
		}
	}
	if oversized {
		return nil, nil
	}
	if buf == nil {
		buf = []byte{}
	}
	r.last = len(buf)
	return buf, nil
}

// cutHeader returns the value of line when it is the header field key.
func cutHeader(line []byte, key string) (string, bool) {
	if len(line) <= len(key) || line[len(key)] != ':' || !strings.EqualFold(string(line[:len(key)]), key) {
		return "", false
	}
	return string(line[len(key)+1:]), true
}

// trimBlankLine removes the blank line that the mbox format puts before a
// separator (RFC 4155: it belongs to the format, not to the message).
func trimBlankLine(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n\n")) {
		return b[:len(b)-1]
	}
	return b
}

// readByLength reads a body of n bytes (the message's Content-Length) and
// accepts it when the file ends there or continues with blank lines and a
// separator, which it stores in r.from. Otherwise it pushes the bytes back
// and reports false, and the caller delimits the message by lines.
func (r *MboxReader) readByLength(n int64, add func([]byte)) (bool, error) {
	if n > r.max() {
		return false, nil
	}
	body := make([]byte, 0, min(n, 1<<20))
	k, err := io.CopyN(bytesWriter{&body}, r.br, n)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read %s: %w", r.name, err)
	}
	ok := false
	var consumed [][]byte
	if k == n {
		// Allow blank lines between the body and the next separator.
		for {
			b, _ := r.br.Peek(5)
			if len(b) == 0 {
				ok = true // end of file
				break
			}
			if bytes.Equal(b, []byte("From ")) {
				line, complete, err := r.readLine()
				if err != nil && err != io.EOF {
					return false, fmt.Errorf("read %s: %w", r.name, err)
				}
				line = append([]byte(nil), line...)
				if complete && r.nextIsHeader() {
					r.from = line
					ok = true
				} else {
					consumed = append(consumed, line)
				}
				break
			}
			if len(consumed) >= 2 || !(b[0] == '\n' || b[0] == '\r') {
				break
			}
			line, _, err := r.readLine()
			if err != nil && err != io.EOF {
				return false, fmt.Errorf("read %s: %w", r.name, err)
			}
			if !isBlank(line) {
				consumed = append(consumed, append([]byte(nil), line...))
				break
			}
			consumed = append(consumed, append([]byte(nil), line...))
		}
	}
	if ok {
		for _, l := range splitLines(body) {
			add(r.unquote(l))
		}
		return true, nil
	}
	// Push back the body and whatever was consumed after it.
	back := body
	for _, l := range consumed {
		back = append(back, l...)
	}
	buffered, _ := r.br.Peek(r.br.Buffered())
	back = append(back, buffered...)
	if r.pb != nil && r.pb.Len() > 0 {
		rest, _ := io.ReadAll(r.pb)
		back = append(back, rest...)
	}
	r.pb = bytes.NewReader(back)
	r.br = bufio.NewReaderSize(io.MultiReader(r.pb, r.src), bufSize)
	return false, nil
}

type bytesWriter struct{ b *[]byte }

func (w bytesWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// splitLines splits b after each '\n', keeping the line endings.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}
