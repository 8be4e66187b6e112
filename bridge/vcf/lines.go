package vcf

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Limits that keep memory bounded whatever the input holds.
const (
	// maxLine is the longest physical line kept; the rest of a longer line
	// is read and discarded.
	maxLine = 8 << 20
	// maxValue is the longest unfolded content line kept (a PHOTO, a
	// NOTE); a longer one is reported and skipped, and the rest of its card
	// is kept.
	maxValue = maxLine
	// maxCard is the most unfolded property data kept for one card; a
	// value that would pass it is reported and skipped like a value over
	// maxValue.
	maxCard = 16 << 20
)

// physLine is one physical line of the file, without its line ending.
type physLine struct {
	text    string
	num     int  // 1-based line number
	tooLong bool // text was cut at maxLine
}

// lineReader splits a byte stream into physical lines. A line ends at LF,
// CRLF, CR CR LF (iOS 5 wrote those) or a lone CR (classic Mac OS, and
// files edited by hand with mixed endings).
type lineReader struct {
	br      *bufio.Reader
	num     int        // number of the last line read from br
	queue   []physLine // lines split off at lone CRs, and the peeked line
	err     error      // sticky error from br (io.EOF at the end)
	buf     []byte
	hasher  io.Writer // receives every line read, for the card's version hash
	scratch []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// fill reads one LF-terminated chunk from br and queues the lines in it.
func (lr *lineReader) fill() {
	if lr.err != nil {
		return
	}
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(lr.buf)+len(chunk) <= maxLine {
			lr.buf = append(lr.buf, chunk...)
		} else {
			tooLong = true
			if room := maxLine - len(lr.buf); room > 0 {
				lr.buf = append(lr.buf, chunk[:room]...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			lr.err = err
			if len(lr.buf) == 0 {
				return
			}
		}
		break
	}
	b := bytes.TrimRight(bytes.TrimSuffix(lr.buf, []byte{'\n'}), "\r")
	if lr.num == 0 {
		// A UTF-8 byte order mark before the first card (Windows editors
		// write one): not part of the data.
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	}
	// Split at lone CRs.
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			break
		}
		lr.num++
		lr.queue = append(lr.queue, physLine{text: string(b[:i]), num: lr.num})
		b = b[i+1:]
	}
	lr.num++
	lr.queue = append(lr.queue, physLine{text: string(b), num: lr.num, tooLong: tooLong})
}

// next returns the next physical line, or the error that ended the input
// (io.EOF at a clean end).
func (lr *lineReader) next() (physLine, error) {
	if len(lr.queue) == 0 {
		lr.fill()
		if len(lr.queue) == 0 {
			return physLine{}, lr.err
		}
	}
	l := lr.queue[0]
	if len(lr.queue) == 1 {
		lr.queue = lr.queue[:0] // keep the array: no allocation per line
	} else {
		lr.queue = lr.queue[1:]
	}
	if lr.hasher != nil {
		lr.scratch = append(append(lr.scratch[:0], l.text...), '\n')
		lr.hasher.Write(lr.scratch)
	}
	return l, nil
}

// peek returns the next physical line without consuming it.
func (lr *lineReader) peek() (physLine, bool) {
	if len(lr.queue) == 0 {
		lr.fill()
		if len(lr.queue) == 0 {
			return physLine{}, false
		}
	}
	return lr.queue[0], true
}
