package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"crmbridge/crm"

	"time"
)

// HTTPDoer sends one HTTP request; *http.Client implements it.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client talks to one Web API service root. It is safe for concurrent use
// when its HTTPDoer is.
type Client struct {
	cfg     Config
	base    *url.URL // service root, path ending in '/'
	doer    HTTPDoer
	token   func() (string, error)
	resolve RefResolver
	cache   Cache
	facts   serverFacts
	offline bool // dry run: ask the server nothing, use the cache or the built-in tables
}

// NewClient returns a client for cfg that sends through doer (nil = an
// *http.Client from NewHTTPClient). resolve, when not nil, tells which
// entity a lookup's GUID names.
func NewClient(cfg Config, doer HTTPDoer, resolve RefResolver) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.BaseURL)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if doer == nil {
		hc, err := NewHTTPClient(cfg)
		if err != nil {
			return nil, err
		}
		doer = hc
	}
	return &Client{cfg: cfg, base: u, doer: doer, token: cfg.Token, resolve: resolve}, nil
}

// ChangeRequest returns the request that applies c upstream with the given
// fields (c.Fields unless the caller merged them) and ETag:
//
//   - create: PATCH <set>(<id>) with If-None-Match: * (a create-only upsert
//     to our own GUID; Dataverse answers 412 when the record exists),
//   - update: PATCH <set>(<id>) with If-Match: <etag>,
//   - delete: DELETE <set>(<id>) with If-Match: * (a delete wins over a
//     concurrent change; CAP answers 428 to a DELETE without If-Match,
//     Dataverse accepts either; 404, or 412 for a missing record, = done).
func (c *Client) ChangeRequest(ctx context.Context, ch Change, op Op, fields map[string]string, etag string) (Request, error) {
	r, err := c.changeRequest(ctx, ch, op, fields, etag)
	return r.Request, err
}

// change is a request with what push needs to know about it.
type change struct {
	Request
	sent  map[string]string // the field values the body sends (what the server holds once applied)
	notes []string          // every value or party changed to fit Dataverse's rules
	deps  []string          // ids of the records the body binds to (lookups, parties)
}

// changeRequest is ChangeRequest that also returns the values sent, the
// notes on values adapted and the records the body binds to.
func (c *Client) changeRequest(ctx context.Context, ch Change, op Op, fields map[string]string, etag string) (change, error) {
	set := EntitySet(ch.Entity)
	if set == "" {
		return change{}, fmt.Errorf("entity %q is not pushed upstream", ch.Entity)
	}
	if !IsGUID(ch.RecordID) {
		return change{}, fmt.Errorf("record id %q is not a GUID", ch.RecordID)
	}
	out := change{Request: Request{Path: set + "(" + strings.ToLower(ch.RecordID) + ")", Header: http.Header{}}}
	switch op {
	case OpCreate, OpUpdate:
		if op == OpUpdate && etag == "" {
			return change{}, errors.New("update without an ETag")
		}
		out.sent, out.notes = c.fit(ctx, ch.Entity, fields, ch.Context)
		parties, pnotes, err := c.parties(ctx, ch.Entity, ch.Parties)
		if err != nil {
			return change{}, err
		}
		out.notes = append(out.notes, pnotes...)
		body, err := encodeBody(ctx, ch.Entity, out.sent, parties, ch.Parties != nil && partyRoles[ch.Entity] != nil, c.resolve)
		if err != nil {
			return change{}, err
		}
		if ch.Entity == crm.List && op == OpCreate {
			// Dataverse only: a plain OData service has no createdfromcode.
			_, dataverse, err := c.whoAmI(ctx)
			if err != nil {
				return change{}, err
			}
			if dataverse {
				if body, err = withListType(body); err != nil {
					return change{}, err
				}
			}
		}
		for k, v := range out.sent {
			if fd, ok := crm.LookupField(ch.Entity, k); ok && fd.Kind == crm.Ref && v != "" {
				out.deps = append(out.deps, strings.ToLower(v))
			}
		}
		for _, w := range parties {
			if w.ID != "" && w.Entity != "systemuser" {
				out.deps = append(out.deps, w.ID)
			}
		}
		// Members are added once the list is confirmed: every member
		// contact must be on the server by then.
		out.deps = append(out.deps, memberDeps(ch)...)
		out.Method, out.Body = http.MethodPatch, body
		if op == OpCreate {
			out.Header.Set("If-None-Match", "*")
		} else {
			out.Header.Set("If-Match", etag)
		}
	case OpDelete:
		out.Method = http.MethodDelete
		out.Header.Set("If-Match", "*")
	default:
		return change{}, fmt.Errorf("unknown op %d", op)
	}
	return out, nil
}

func (c *Client) newHTTPRequest(ctx context.Context, method, path, query string, body io.Reader) (*http.Request, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query
	if strings.ContainsAny(path, "()$") {
		// Keep OData's parentheses and '$' literal in the request line.
		u.RawPath = c.base.EscapedPath() + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if err := c.setHeaders(req); err != nil {
		return nil, err
	}
	return req, nil
}

// setHeaders adds what every Web API request carries: the bearer token
// (read at use, never kept) and the OData version headers.
func (c *Client) setHeaders(req *http.Request) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("OData-Version", "4.0")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("Accept", "application/json")
	return nil
}

// Do sends one request on its own and returns the server's answer. A
// non-nil error means no answer arrived (the outcome is unknown when the
// request may have been sent).
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	path, query, _ := strings.Cut(r.Path, "?")
	req, err := c.newHTTPRequest(ctx, r.Method, path, query, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.doer.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", r.Method, r.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// BatchError is a $batch request answered as a whole with an error status
// and no multipart body (throttling, authentication, a malformed batch).
type BatchError struct{ Response }

func (e *BatchError) Error() string { return "batch: " + e.ErrorMessage() }

// Batch sends reqs as one $batch request, each in its own change set, with
// Prefer: odata.continue-on-error, and returns one Response per request, in
// order. When the server answers the batch as a whole with an error, the
// error is a *BatchError. Answers may be fewer than reqs when the server
// stopped early (Dataverse does, with status 400, on an error without
// continue-on-error): the outcome of the rest is unknown.
func (c *Client) Batch(ctx context.Context, reqs []Request) ([]Response, error) {
	if len(reqs) > MaxBatchSize {
		return nil, fmt.Errorf("batch of %d requests: at most %d", len(reqs), MaxBatchSize)
	}
	var buf bytes.Buffer
	ct, err := writeBatch(&buf, reqs)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	req, err := c.newHTTPRequest(ctx, http.MethodPost, "$batch", "", &buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	// Without this, CAP answers in OData 4.01's JSON batch format.
	req.Header.Set("Accept", "multipart/mixed")
	req.Header.Set("Prefer", "odata.continue-on-error")
	resp, err := c.doer.Do(req)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	defer resp.Body.Close()
	out, err := readBatch(resp.Header.Get("Content-Type"), resp.Body)
	if errors.Is(err, errNotMultipart) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
		return nil, &BatchError{Response{Status: resp.StatusCode, Header: resp.Header, Body: b}}
	}
	if len(out) > len(reqs) {
		return nil, fmt.Errorf("batch: %d answers to %d requests", len(out), len(reqs))
	}
	if err != nil {
		return out, fmt.Errorf("batch: %w", err)
	}
	return out, nil
}

// Get reads one record back by id; rec.Found is false when the server
// answers 404. For an activity the parties are expanded and returned.
func (c *Client) Get(ctx context.Context, e crm.Entity, id string) (rec *ServerRecord, err error) {
	set := EntitySet(e)
	if set == "" || !IsGUID(id) {
		return nil, fmt.Errorf("get %s %s: bad entity or id", e, id)
	}
	path := set + "(" + strings.ToLower(id) + ")"
	if e.IsActivity() {
		path += "?$expand=" + PartiesProperty(e)
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return nil, err
	}
	switch {
	case resp.Status == http.StatusNotFound:
		return &ServerRecord{}, nil
	case resp.Status != http.StatusOK:
		return nil, &StatusError{Op: "get " + path, Response: *resp}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &obj); err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	fields, etag, mod, err := DecodeRecord(e, obj)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	if etag == "" {
		etag = resp.Header.Get("ETag")
	}
	rec = &ServerRecord{Found: true, Fields: fields, ETag: etag, ModifiedOn: mod}
	if raw, ok := obj[PartiesProperty(e)]; ok && e.IsActivity() {
		rec.Parties, err = decodeParties(raw)
		if err != nil {
			return nil, fmt.Errorf("get %s: parties: %w", path, err)
		}
		rec.HasParties = true
	}
	return rec, nil
}

// StatusError is a request answered with an unexpected status.
type StatusError struct {
	Op string
	Response
}

func (e *StatusError) Error() string { return e.Op + ": " + e.ErrorMessage() }

// ServerRecord is a record as read back from the server.
type ServerRecord struct {
	Found      bool
	Fields     map[string]string // canonical values of upstream fields
	Parties    []crm.Party       // activities: the expanded parties
	HasParties bool
	ETag       string
	ModifiedOn time.Time
}

func decodeParties(raw json.RawMessage) ([]crm.Party, error) {
	var ps []struct {
		Mask    int     `json:"participationtypemask"`
		Party   *string `json:"_partyid_value"`
		Address *string `json:"addressused"`
	}
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, err
	}
	out := make([]crm.Party, 0, len(ps))
	for _, p := range ps {
		q := crm.Party{Role: p.Mask}
		if p.Party != nil {
			q.ContactID = strings.ToLower(*p.Party)
		}
		if p.Address != nil {
			q.Address = strings.ToLower(*p.Address)
		}
		out = append(out, q)
	}
	return out, nil
}

// SameParties reports whether two party lists name the same participants in
// the same roles (order, names and response status do not matter; a party
// resolved to a contact is compared by contact id, otherwise by address).
func SameParties(a, b []crm.Party) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(p crm.Party) string {
		if p.ContactID != "" {
			return fmt.Sprintf("%d c %s", p.Role, strings.ToLower(p.ContactID))
		}
		return fmt.Sprintf("%d a %s", p.Role, strings.ToLower(p.Address))
	}
	n := map[string]int{}
	for _, p := range a {
		n[key(p)]++
	}
	for _, p := range b {
		k := key(p)
		if n[k] == 0 {
			return false
		}
		n[k]--
	}
	return true
}

func decodeObject(b []byte) map[string]json.RawMessage {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(b, &obj)
	return obj
}

// WriteBatchRequest writes the $batch HTTP request that Batch would send for
// reqs to w, with the bearer token redacted (for --dry-run).
func (c *Client) WriteBatchRequest(w io.Writer, reqs []Request) error {
	var buf bytes.Buffer
	ct, err := writeBatch(&buf, reqs)
	if err != nil {
		return err
	}
	u := *c.base
	u.RawPath = c.base.EscapedPath() + "$batch"
	u.Path += "$batch"
	fmt.Fprintf(w, "POST %s HTTP/1.1\r\n", u.String())
	h := http.Header{}
	h.Set("Authorization", "Bearer [REDACTED]")
	h.Set("OData-Version", "4.0")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("Accept", "multipart/mixed")
	h.Set("Content-Type", ct)
	h.Set("Prefer", "odata.continue-on-error")
	if err := h.Write(w); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}
