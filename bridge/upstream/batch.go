package upstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Limits on what is read from a server response, so a broken or hostile
// server cannot make push allocate without bound.
const (
	maxBodyBytes  = 4 << 20  // one part's or one plain response's body
	maxBatchBytes = 64 << 20 // a whole $batch response
	maxBatchParts = 1000     // the Web API's limit of requests per batch
)

// Request is one Web API request, on its own or as one part of a $batch.
type Request struct {
	Method string
	Path   string // relative to the service root: "contacts(<guid>)"
	Header http.Header
	Body   []byte // JSON, or nil
}

// Response is the answer to one Request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte // at most maxBodyBytes
}

// ErrorMessage returns the server's error message from an OData error body
// ({"error":{"code":…,"message":…}}), or the status text.
func (r *Response) ErrorMessage() string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(r.Body, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
		if e.Error.Code != "" {
			msg = e.Error.Code + ": " + msg
		}
	} else if b := strings.TrimSpace(string(r.Body)); b != "" && len(b) < 300 {
		msg = b
	}
	s := fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status))
	if msg != "" {
		s += ": " + msg
	}
	return s
}

// writeBatch writes the multipart/mixed body of a $batch request with one
// change set per request to w and returns its Content-Type.
//
// OData 4.0 Part 1, 11.7: a change set is a multipart/mixed part of its own;
// each request in it is an application/http part with a Content-ID. The
// request URL is relative to the service root (11.7.2 allows it, and SAP
// CAP accepts nothing else: an absolute path comes back 404 "Invalid
// resource path").
func writeBatch(w io.Writer, reqs []Request) (string, error) {
	mw := multipart.NewWriter(w)
	for i, r := range reqs {
		cw := &bytes.Buffer{}
		cs := multipart.NewWriter(cw)
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		h.Set("Content-Transfer-Encoding", "binary")
		h.Set("Content-ID", strconv.Itoa(i+1))
		pw, err := cs.CreatePart(h)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(pw, "%s %s HTTP/1.1\r\n", r.Method, r.Path)
		hdr := r.Header.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		if r.Body != nil {
			hdr.Set("Content-Type", "application/json")
			hdr.Set("Content-Length", strconv.Itoa(len(r.Body)))
		}
		if err := hdr.Write(pw); err != nil {
			return "", err
		}
		io.WriteString(pw, "\r\n")
		pw.Write(r.Body)
		if err := cs.Close(); err != nil {
			return "", err
		}
		oh := textproto.MIMEHeader{}
		oh.Set("Content-Type", "multipart/mixed; boundary="+cs.Boundary())
		ow, err := mw.CreatePart(oh)
		if err != nil {
			return "", err
		}
		if _, err := ow.Write(cw.Bytes()); err != nil {
			return "", err
		}
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	return "multipart/mixed; boundary=" + mw.Boundary(), nil
}

// errNotMultipart means a $batch answer was not a multipart body (a
// batch-level error).
var errNotMultipart = errors.New("upstream: batch response is not multipart")

// readBatch parses a $batch response body of the given Content-Type into one
// Response per top-level part, in order: a change set's part (multipart
// itself) yields the response of its one request, or the single response
// the server gave for the whole failed change set.
func readBatch(contentType string, body io.Reader) ([]Response, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, errNotMultipart
	}
	tail := &tailReader{r: io.LimitReader(body, maxBatchBytes)}
	mr := multipart.NewReader(tail, params["boundary"])
	var out []Response
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			// mime/multipart may report a body cut inside a part's header
			// as a clean end: check the close delimiter was there.
			if !bytes.Contains(tail.last, []byte("--"+params["boundary"]+"--")) {
				return out, fmt.Errorf("batch response truncated after %d parts", len(out))
			}
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("batch response part %d: %w", len(out)+1, err)
		}
		if len(out) >= maxBatchParts {
			return out, fmt.Errorf("batch response has more than %d parts", maxBatchParts)
		}
		rs, err := readPart(p, 0)
		if err != nil {
			return out, fmt.Errorf("batch response part %d: %w", len(out)+1, err)
		}
		out = append(out, rs)
	}
}

func readPart(p *multipart.Part, depth int) (Response, error) {
	mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
	if err != nil {
		return Response{}, fmt.Errorf("content type: %w", err)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && depth == 0:
		mr := multipart.NewReader(p, params["boundary"])
		var first *Response
		for {
			q, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return Response{}, fmt.Errorf("change set: %w", err)
			}
			r, err := readPart(q, depth+1)
			if err != nil {
				return Response{}, err
			}
			// One request per change set: the first response is its
			// answer; a failed one decides for the change set.
			if first == nil || (first.Status < 300 && r.Status >= 300) {
				first = &r
			}
		}
		if first == nil {
			return Response{}, errors.New("empty change set")
		}
		return *first, nil
	case mt == "application/http":
		resp, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			return Response{}, fmt.Errorf("embedded response: %w", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return Response{}, fmt.Errorf("embedded response body: %w", err)
		}
		return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
	}
	return Response{}, fmt.Errorf("unexpected part type %q", mt)
}

// tailReader remembers the last bytes read through it.
type tailReader struct {
	r    io.Reader
	last []byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.last = append(t.last, p[:n]...)
	if len(t.last) > 512 {
		t.last = append(t.last[:0], t.last[len(t.last)-256:]...)
	}
	return n, err
}
