package fakeserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
)

// Root is the service root path the server answers under.
const Root = "/api/data/v9.2/"

// Style selects how the server answers where Dataverse and SAP CAP differ.
type Style int

// Server styles.
const (
	// Dataverse: a create-only upsert of an existing key → 412; a batch
	// with a failed change set → 400 (the parts still answered); an
	// update without If-Match is applied.
	Dataverse Style = iota
	// CAP: a create-only upsert of an existing key → 500; a failed change
	// set → its error part inside a 200 batch; an update of an existing
	// record without If-Match → 428.
	CAP
)

// Fault is what the server does wrong to one request or batch part.
type Fault int

// Faults.
const (
	None               Fault = iota
	DropBefore               // close the connection without applying (in a batch: from this part on)
	DropAfter                // apply (in a batch: up to and including this part), then close the connection
	Throttle                 // 429 with Retry-After, not applied
	Unavailable              // 503 with Retry-After, not applied
	ServerError              // apply, then answer 500
	Slow                     // apply, then answer after SlowDelay
	ConcurrentWrite          // another user changes the record first (its ETag goes stale)
	GatewayError             // apply, then a gateway answers 502 with an HTML page (no OData error body)
	GatewayUnavailable       // a gateway answers 503 with an HTML page; applied or not is unknown (applied here)
	Forbidden                // 403: the user may not use this table (not applied)
)

// Call describes what a fault is being chosen for: a whole request
// (Part 0) or one part of a $batch (Part ≥ 1).
type Call struct {
	Meta   bool // a function or metadata read (WhoAmI, EntityDefinitions), not a record
	Batch  bool
	Part   int
	Method string
	Set    string
	ID     string
}

// Write is one change the server applied.
type Write struct {
	Version int64
	Set, ID string
	Kind    string // "create", "update", "delete", "concurrent"
	Fields  map[string]string
	Parties []crm.Party
}

// Record is a stored record.
type Record struct {
	Entity   crm.Entity
	ID       string
	Fields   map[string]string // canonical values by attribute; lookups by attribute name
	Parties  []crm.Party
	Version  int64
	Modified time.Time
}

func (r *Record) etag() string { return fmt.Sprintf(`W/"%d"`, r.Version) }

type change struct {
	version int64
	set, id string
	deleted bool
}

// Server is the fake Web API. Configure the exported fields before Start.
type Server struct {
	Style          Style
	Token          string        // expected bearer token ("" = any)
	ChangeTracking bool          // honour Prefer: odata.track-changes
	RetryAfter     string        // Retry-After of 429/503 answers (default "1")
	SlowDelay      time.Duration // delay of a Slow answer
	PageSize       int           // records per page of a collection read (default 50)
	// Inject chooses a fault per request and per batch part; nil = none.
	// It is called with the server's lock held.
	Inject func(Call) Fault
	// UserID and UserEmail are the calling user WhoAmI and
	// systemusers(<id>) answer (default DefaultUserID, no address).
	UserID, UserEmail string
	// MaxLength are the string column limits (default DefaultMaxLength());
	// NoMetadata refuses metadata reads with 403.
	MaxLength  map[crm.Entity]map[string]int
	NoMetadata bool
	// Clock, when set, gives modifiedon (cut to whole seconds): a test
	// can make many changes within one second.
	Clock func() time.Time

	mu         sync.Mutex
	recs       map[string]*Record // "set(id)"
	version    int64
	writes     []Write
	creates    map[string]int
	violations []string
	changes    []change
	requests   int
	epoch      time.Time
	ts         *httptest.Server

	whoAmIs, metadataReads int

	listType map[string]string          // list id → createdfromcode
	members  map[string]map[string]bool // list id → member ids
}

// New returns a server of the given style.
func New(style Style) *Server {
	return &Server{Style: style, recs: map[string]*Record{}, creates: map[string]int{},
		epoch: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Start serves on a loopback port and returns the service root URL.
func (s *Server) Start() string {
	s.ts = httptest.NewServer(s)
	return s.ts.URL + Root
}

// Close stops the server.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// Records returns a copy of the stored records of an entity set by id.
func (s *Server) Records(set string) map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Record{}
	for _, r := range s.recs {
		if upstream.EntitySet(r.Entity) == set {
			c := *r
			c.Fields = maps.Clone(r.Fields)
			c.Parties = append([]crm.Party(nil), r.Parties...)
			out[r.ID] = c
		}
	}
	return out
}

// Record returns one stored record.
func (s *Server) Record(set, id string) (Record, bool) {
	r, ok := s.Records(set)[id]
	return r, ok
}

// Writes returns the log of applied writes, in order.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}

// Creates returns how many times a record with this id was created.
func (s *Server) Creates(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates[id]
}

// Violations returns what clients sent that a correct client never sends
// (malformed requests, unknown attributes, unconditional writes).
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Requests returns the number of HTTP requests served.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Put stores a record as if another user had created it.
func (s *Server) Put(e crm.Entity, id string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	fields = maps.Clone(fields)
	if e == crm.List {
		// Another user picks the member type when creating a list.
		s.setListType(id, fields["createdfromcode"])
		delete(fields, "createdfromcode")
	}
	r := &Record{Entity: e, ID: id, Fields: maps.Clone(fields), Version: s.version, Modified: s.stamp()}
	s.recs[upstream.EntitySet(e)+"("+id+")"] = r
	s.changes = append(s.changes, change{s.version, upstream.EntitySet(e), id, false})
	s.writes = append(s.writes, Write{Version: s.version, Set: upstream.EntitySet(e), ID: id, Kind: "concurrent", Fields: maps.Clone(fields)})
}

// Touch changes one field of a stored record as another user would,
// making every ETag seen before stale. It reports whether the record exists.
func (s *Server) Touch(set, id, field, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touch(set, id, field, value)
}

// Remove deletes a stored record as another user would.
func (s *Server) Remove(set, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[set+"("+id+")"]; ok {
		delete(s.recs, set+"("+id+")")
		s.dropMembers(set, id)
		s.version++
		s.changes = append(s.changes, change{s.version, set, id, true})
	}
}

func (s *Server) touch(set, id, field, value string) bool {
	r := s.recs[set+"("+id+")"]
	if r == nil {
		return false
	}
	s.version++
	r.Fields[field] = value
	r.Version, r.Modified = s.version, s.stamp()
	s.changes = append(s.changes, change{s.version, set, id, false})
	s.writes = append(s.writes, Write{Version: s.version, Set: set, ID: id, Kind: "concurrent", Fields: map[string]string{field: value}})
	return true
}

// stamp is the modifiedon of the current version: Clock's time in whole
// seconds (Dataverse's precision), or one second per version so that times
// never tie.
func (s *Server) stamp() time.Time {
	if s.Clock != nil {
		return s.Clock().UTC().Truncate(time.Second)
	}
	return s.epoch.Add(time.Duration(s.version) * time.Second)
}

func (s *Server) violate(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *Server) fault(c Call) Fault {
	if s.Inject == nil {
		return None
	}
	return s.Inject(c)
}

// answer is one response, for a request on its own or a batch part.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func errAnswer(status int, code, msg string) answer {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	h := http.Header{}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	return answer{status: status, header: h, body: b}
}

func (s *Server) throttled(status int) answer {
	a := errAnswer(status, "0x80072322", "Number of requests exceeded the limit")
	ra := s.RetryAfter
	if ra == "" {
		ra = "1"
	}
	a.header.Set("Retry-After", ra)
	return a
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	a, drop, slow := s.serve(r, body)
	s.mu.Unlock()
	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if slow {
		time.Sleep(s.SlowDelay)
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(a.status)
	w.Write(a.body)
}

func (s *Server) serve(r *http.Request, body []byte) (a answer, drop, slow bool) {
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		return errAnswer(http.StatusUnauthorized, "0x80040220", "bad or missing bearer token"), false, false
	}
	if v := r.Header.Get("OData-Version"); v != "" && v != "4.0" {
		s.violate("OData-Version %q", v)
		return errAnswer(http.StatusBadRequest, "0x0", "OData-Version must be 4.0"), false, false
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, Root) {
		s.violate("%s %s: not under %s", r.Method, path, Root)
		return errAnswer(http.StatusNotFound, "0x0", "no such resource"), false, false
	}
	rel := strings.TrimPrefix(path, Root)
	if rel == "$batch" {
		if r.Method != http.MethodPost {
			s.violate("%s $batch", r.Method)
			return errAnswer(http.StatusMethodNotAllowed, "0x0", "POST only"), false, false
		}
		return s.batch(r.Header, body)
	}
	set, id, _ := splitPath(rel)
	_, known := upstream.EntityOfSet(set)
	f := s.fault(Call{Method: r.Method, Set: set, ID: id, Meta: !known})
	switch f {
	case DropBefore:
		return answer{}, true, false
	case Throttle:
		return s.throttled(http.StatusTooManyRequests), false, false
	case Unavailable:
		return s.throttled(http.StatusServiceUnavailable), false, false
	case Forbidden:
		return errAnswer(http.StatusForbidden, "0x80040220", "Principal user is missing prv privilege"), false, false
	}
	a = s.exec(r.Method, rel, r.URL.Query(), r.Header, body, f == ConcurrentWrite)
	switch f {
	case DropAfter:
		return answer{}, true, false
	case ServerError:
		return errAnswer(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred."), false, false
	case GatewayError:
		return gatewayAnswer(http.StatusBadGateway), false, false
	case GatewayUnavailable:
		return gatewayAnswer(http.StatusServiceUnavailable), false, false
	case Slow:
		return a, false, true
	}
	return a, false, false
}

// gatewayAnswer is what a proxy in front of the service answers: an HTML
// page, not the service's OData error body.
func gatewayAnswer(status int) answer {
	h := http.Header{}
	h.Set("Content-Type", "text/html")
	return answer{status: status, header: h, body: []byte("<html><body><h1>" + http.StatusText(status) + "</h1></body></html>")}
}

// splitPath splits "contacts(<guid>)" into the set and the id.
func splitPath(rel string) (set, id string, ok bool) {
	rel, _ = url.PathUnescape(rel)
	i := strings.IndexByte(rel, '(')
	if i < 0 {
		return rel, "", true
	}
	if !strings.HasSuffix(rel, ")") {
		return rel[:i], "", false
	}
	return rel[:i], rel[i+1 : len(rel)-1], true
}

// batch runs a $batch request: OData 4.0 Part 1, 11.7.
func (s *Server) batch(h http.Header, body []byte) (answer, bool, bool) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		s.violate("$batch Content-Type %q", h.Get("Content-Type"))
		return errAnswer(http.StatusBadRequest, "0x0", "batch must be multipart/mixed with a boundary"), false, false
	}
	if !strings.Contains(h.Get("Prefer"), "odata.continue-on-error") {
		s.violate("$batch without Prefer: odata.continue-on-error")
	}
	bf := s.fault(Call{Batch: true})
	switch bf {
	case DropBefore:
		return answer{}, true, false
	case Throttle:
		return s.throttled(http.StatusTooManyRequests), false, false
	case Unavailable:
		return s.throttled(http.StatusServiceUnavailable), false, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	failed := false
	for n := 1; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.violate("$batch part %d: %v", n, err)
			return errAnswer(http.StatusBadRequest, "0x0", "malformed batch: "+err.Error()), false, false
		}
		if n > upstream.MaxBatchSize {
			s.violate("$batch with more than %d parts", upstream.MaxBatchSize)
			return errAnswer(http.StatusBadRequest, "0x0", "too many requests in batch"), false, false
		}
		req, cid, relURL, err := s.readChangeSet(p)
		if err != nil {
			s.violate("$batch part %d: %v", n, err)
			return errAnswer(http.StatusBadRequest, "0x0", fmt.Sprintf("malformed batch part %d: %v", n, err)), false, false
		}
		rel := strings.TrimPrefix(req.URL.EscapedPath(), Root)
		if strings.HasPrefix(rel, "/") || req.URL.IsAbs() {
			s.violate("$batch part %d: URL %q not under %s", n, req.URL, Root)
		}
		if s.Style == CAP && !relURL {
			// CAP reads a part's URL only relative to the service root.
			writeAnswerPart(mw, errAnswer(http.StatusNotFound, "404", "Invalid resource path"), cid, false)
			failed = true
			continue
		}
		set, id, _ := splitPath(rel)
		f := s.fault(Call{Batch: true, Part: n, Method: req.Method, Set: set, ID: id})
		if f == DropBefore {
			return answer{}, true, false
		}
		var a answer
		switch f {
		case Throttle:
			a = s.throttled(http.StatusTooManyRequests)
		case Unavailable:
			a = s.throttled(http.StatusServiceUnavailable)
		default:
			rb, _ := io.ReadAll(req.Body)
			a = s.exec(req.Method, rel, req.URL.Query(), req.Header, rb, f == ConcurrentWrite)
			switch f {
			case ServerError:
				a = errAnswer(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred.")
			case GatewayError:
				a = gatewayAnswer(http.StatusBadGateway)
			case GatewayUnavailable:
				a = gatewayAnswer(http.StatusServiceUnavailable)
			}
		}
		if f == DropAfter {
			return answer{}, true, false
		}
		if a.status >= 400 {
			failed = true
		}
		writeAnswerPart(mw, a, cid, s.Style == CAP || a.status < 400)
	}
	mw.Close()
	if bf == DropAfter {
		return answer{}, true, false
	}
	switch bf {
	case ServerError:
		return errAnswer(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred."), false, false
	case GatewayError:
		return gatewayAnswer(http.StatusBadGateway), false, false
	case GatewayUnavailable:
		return gatewayAnswer(http.StatusServiceUnavailable), false, false
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	status := http.StatusOK
	if failed && s.Style == Dataverse {
		status = http.StatusBadRequest
	}
	return answer{status: status, header: hdr, body: out.Bytes()}, false, bf == Slow
}

// readChangeSet reads one top-level batch part: a change set holding
// exactly one application/http request (crmbridge's framing).
func (s *Server) readChangeSet(p *multipart.Part) (req *http.Request, cid string, relURL bool, err error) {
	mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, "", false, fmt.Errorf("want a change set (multipart/mixed), got %q", p.Header.Get("Content-Type"))
	}
	cr := multipart.NewReader(p, params["boundary"])
	q, err := cr.NextPart()
	if err != nil {
		return nil, "", false, fmt.Errorf("change set: %w", err)
	}
	if ct := q.Header.Get("Content-Type"); ct != "application/http" {
		return nil, "", false, fmt.Errorf("change set part Content-Type %q", ct)
	}
	if te := q.Header.Get("Content-Transfer-Encoding"); te != "binary" {
		return nil, "", false, fmt.Errorf("change set part Content-Transfer-Encoding %q", te)
	}
	cid = q.Header.Get("Content-ID")
	if cid == "" {
		return nil, "", false, fmt.Errorf("change set part without Content-ID")
	}
	raw, err := io.ReadAll(q)
	if err != nil {
		return nil, "", false, fmt.Errorf("change set part: %w", err)
	}
	// net/http parses only absolute request paths: resolve a URL relative
	// to the service root first (OData 4.0 Part 1, 11.7.2 allows both).
	line, rest, _ := bytes.Cut(raw, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) != 3 || f[2] != "HTTP/1.1" {
		return nil, "", false, fmt.Errorf("bad request line %q", line)
	}
	if !strings.HasPrefix(f[1], "/") && !strings.Contains(f[1], "://") {
		f[1], relURL = Root+f[1], true
	}
	raw = append([]byte(strings.Join(f, " ")+"\r\n"), rest...)
	req, err = http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, "", false, fmt.Errorf("embedded request: %w", err)
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, "", false, fmt.Errorf("embedded request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	if req.Method == http.MethodGet {
		return nil, "", false, fmt.Errorf("GET inside a change set")
	}
	if _, err := cr.NextPart(); err != io.EOF {
		return nil, "", false, fmt.Errorf("change set with more than one request")
	}
	return req, cid, relURL, nil
}

// writeAnswerPart writes one change set's answer: inside a change set
// response, or (Dataverse, failed change set) as a single response.
func writeAnswerPart(mw *multipart.Writer, a answer, cid string, inChangeSet bool) {
	var resp bytes.Buffer
	fmt.Fprintf(&resp, "HTTP/1.1 %d %s\r\n", a.status, http.StatusText(a.status))
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	h.Write(&resp)
	resp.WriteString("\r\n")
	resp.Write(a.body)
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Type", "application/http")
	ph.Set("Content-Transfer-Encoding", "binary")
	if !inChangeSet {
		w, _ := mw.CreatePart(ph)
		w.Write(resp.Bytes())
		return
	}
	var cs bytes.Buffer
	cw := multipart.NewWriter(&cs)
	ph.Set("Content-ID", cid)
	w, _ := cw.CreatePart(ph)
	w.Write(resp.Bytes())
	cw.Close()
	oh := textproto.MIMEHeader{}
	oh.Set("Content-Type", "multipart/mixed; boundary="+cw.Boundary())
	ow, _ := mw.CreatePart(oh)
	ow.Write(cs.Bytes())
}

// exec runs one request against the store. concurrent makes another user
// change the record first.
func (s *Server) exec(method, rel string, query url.Values, h http.Header, body []byte, concurrent bool) answer {
	if a, ok := s.serveFunction(method, rel); ok {
		return a
	}
	if a, ok := s.serveMembers(method, rel, body); ok {
		return a
	}
	set, id, ok := splitPath(rel)
	e, known := upstream.EntityOfSet(set)
	if !ok || !known {
		s.violate("%s %s: unknown entity set", method, rel)
		return errAnswer(http.StatusNotFound, "0x80060888", "Resource not found for the segment '"+set+"'.")
	}
	if id == "" {
		if method != http.MethodGet {
			s.violate("%s %s: no key", method, rel)
			return errAnswer(http.StatusMethodNotAllowed, "0x0", "crmbridge never posts to a collection")
		}
		return s.list(e, set, query, h)
	}
	if !upstream.IsGUID(id) {
		s.violate("%s %s: key %q is not a GUID", method, rel, id)
		return errAnswer(http.StatusBadRequest, "0x80060891", "bad key")
	}
	id = strings.ToLower(id)
	key := set + "(" + id + ")"
	if concurrent {
		s.touch(set, id, "description", fmt.Sprintf("srv-%d", s.version+1))
	}
	rec := s.recs[key]
	switch method {
	case http.MethodGet:
		if rec == nil {
			return errAnswer(http.StatusNotFound, "0x80040217", string(e)+" With Id = "+id+" Does Not Exist")
		}
		return s.represent(rec, http.StatusOK, query.Get("$expand"))
	case http.MethodDelete:
		if rec == nil {
			return errAnswer(http.StatusNotFound, "0x80040217", string(e)+" With Id = "+id+" Does Not Exist")
		}
		if h.Get("If-Match") == "" && s.Style == CAP {
			return errAnswer(http.StatusPreconditionRequired, "428", "Precondition Required")
		}
		if im := h.Get("If-Match"); im != "" && im != "*" && im != rec.etag() {
			return errAnswer(http.StatusPreconditionFailed, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
		}
		delete(s.recs, key)
		s.dropMembers(set, id)
		s.version++
		s.changes = append(s.changes, change{s.version, set, id, true})
		s.writes = append(s.writes, Write{Version: s.version, Set: set, ID: id, Kind: "delete"})
		return answer{status: http.StatusNoContent, header: http.Header{}}
	case http.MethodPatch:
		return s.patch(e, set, id, rec, h, body)
	}
	s.violate("%s %s: method not supported", method, rel)
	return errAnswer(http.StatusMethodNotAllowed, "0x0", "method not allowed")
}

func (s *Server) patch(e crm.Entity, set, id string, rec *Record, h http.Header, body []byte) answer {
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "application/json" {
		s.violate("PATCH %s(%s): Content-Type %q", set, id, h.Get("Content-Type"))
		return errAnswer(http.StatusUnsupportedMediaType, "0x0", "JSON only")
	}
	var fromCode string
	if e == crm.List && s.Style == Dataverse {
		var err error
		if body, fromCode, err = cutCreatedFromCode(body); err != nil {
			s.violate("PATCH %s(%s): %v", set, id, err)
			return errAnswer(http.StatusBadRequest, "0x80048d19", err.Error())
		}
		if rec != nil && fromCode != "" && fromCode != s.listType[id] {
			return errAnswer(http.StatusBadRequest, "0x80040203", "createdfromcode cannot be changed once the list is created")
		}
	}
	fields, decoded, hasParties, err := decodeBody(e, body)
	if err != nil {
		s.violate("PATCH %s(%s): %v", set, id, err)
		return errAnswer(http.StatusBadRequest, "0x80048d19", err.Error())
	}
	var parties []crm.Party
	var bound []boundParty
	for _, p := range decoded {
		if p.Role == 0 { // a lookup's bind
			if err := s.checkBind(p.bound, p.ContactID); err != nil {
				return errAnswer(err.status, err.code, err.msg)
			}
			continue
		}
		parties = append(parties, p.Party)
		bound = append(bound, p)
	}
	if err := s.checkValues(e, fields); err != nil {
		re := err.(*ruleError)
		return errAnswer(re.status, re.code, re.msg)
	}
	if hasParties {
		if err := s.checkParties(e, bound); err != nil {
			re := err.(*ruleError)
			return errAnswer(re.status, re.code, re.msg)
		}
	}
	inm, im := h.Get("If-None-Match"), h.Get("If-Match")
	switch {
	case inm != "" && inm != "*":
		s.violate("PATCH %s(%s): If-None-Match %q", set, id, inm)
		return errAnswer(http.StatusBadRequest, "0x0", "If-None-Match must be *")
	case inm == "*" && im != "":
		s.violate("PATCH %s(%s): both If-Match and If-None-Match", set, id)
		return errAnswer(http.StatusBadRequest, "0x0", "both If-Match and If-None-Match")
	case inm == "" && im == "":
		s.violate("PATCH %s(%s): unconditional write", set, id)
		if rec != nil && s.Style == CAP {
			return errAnswer(http.StatusPreconditionRequired, "428", "Precondition required")
		}
	}
	create := false
	switch {
	case inm == "*" && rec != nil:
		if s.Style == CAP {
			// CAP runs the upsert as an INSERT that hits the key.
			return errAnswer(http.StatusInternalServerError, "500", "Entity already exists")
		}
		return errAnswer(http.StatusPreconditionFailed, "0x80040237", "A record with matching key values already exists.")
	case im != "" && rec == nil:
		return errAnswer(http.StatusNotFound, "0x80040217", string(e)+" With Id = "+id+" Does Not Exist")
	case im != "" && im != "*" && im != rec.etag():
		return errAnswer(http.StatusPreconditionFailed, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
	case rec == nil:
		create = true
		rec = &Record{Entity: e, ID: id, Fields: map[string]string{}}
		s.recs[set+"("+id+")"] = rec
		if e == crm.List {
			s.setListType(id, fromCode)
		}
		s.creates[id]++
	}
	s.version++
	maps.Copy(rec.Fields, fields)
	if hasParties {
		rec.Parties = parties
	}
	rec.Version, rec.Modified = s.version, s.stamp()
	kind := "update"
	if create {
		kind = "create"
	}
	s.changes = append(s.changes, change{s.version, set, id, false})
	s.writes = append(s.writes, Write{Version: s.version, Set: set, ID: id, Kind: kind, Fields: maps.Clone(fields), Parties: parties})
	if strings.Contains(h.Get("Prefer"), "return=representation") {
		a := s.represent(rec, http.StatusOK, "")
		if create {
			a.status = http.StatusCreated
		}
		return a
	}
	hdr := http.Header{}
	hdr.Set("ETag", rec.etag())
	hdr.Set("OData-EntityId", Root+set+"("+id+")")
	return answer{status: http.StatusNoContent, header: hdr}
}

// decodeBody validates a PATCH body against the schema and returns the
// canonical field values it sets.
func decodeBody(e crm.Entity, body []byte) (map[string]string, []boundParty, bool, error) {
	var obj map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		return nil, nil, false, fmt.Errorf("body is not a JSON object: %w", err)
	}
	fields := map[string]string{}
	var parties []boundParty
	hasParties := false
	for k, raw := range obj {
		switch {
		case strings.HasSuffix(k, "@odata.bind"):
			field, id, target, err := decodeBind(e, strings.TrimSuffix(k, "@odata.bind"), raw)
			if err != nil {
				return nil, nil, false, err
			}
			fields[field] = id
			if id != "" {
				parties = append(parties, boundParty{Party: crm.Party{ContactID: id}, bound: string(target)})
			}
		case e.IsActivity() && k == upstream.PartiesProperty(e):
			ps, err := decodePartiesBody(raw)
			if err != nil {
				return nil, nil, false, fmt.Errorf("%s: %w", k, err)
			}
			parties, hasParties = ps, true
		case k == "statuscode":
			v, err := typed(crm.Int, raw)
			if err != nil {
				return nil, nil, false, fmt.Errorf("statuscode: %w", err)
			}
			fields[k] = v
		default:
			fd, ok := crm.LookupField(e, k)
			if !ok || !fd.Upstream || fd.Kind == crm.Ref {
				return nil, nil, false, fmt.Errorf("could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'", k, e)
			}
			v, err := typed(fd.Kind, raw)
			if err != nil {
				return nil, nil, false, fmt.Errorf("%s: %w", k, err)
			}
			if fd.Kind == crm.Option && v != "" && fd.Options[v] == "" {
				return nil, nil, false, fmt.Errorf("%s: %s is not a valid option", k, v)
			}
			fields[k] = v
		}
	}
	state, hasState := fields["statecode"]
	status, hasStatus := fields["statuscode"]
	if hasState != hasStatus {
		return nil, nil, false, fmt.Errorf("statecode and statuscode must be sent together")
	}
	if hasState && !upstream.ValidStatus(e, state, status) {
		return nil, nil, false, fmt.Errorf("%s is not a valid status code for state code %s", status, state)
	}
	return fields, parties, hasParties, nil
}

func decodeBind(e crm.Entity, nav string, raw json.RawMessage) (string, string, crm.Entity, error) {
	for _, fd := range crm.Fields(e) {
		if fd.Kind != crm.Ref || !fd.Upstream {
			continue
		}
		for _, t := range upstream.RefTargets(e, fd.Name) {
			if upstream.NavProperty(e, fd.Name, t) != nav {
				continue
			}
			if string(raw) == "null" {
				return fd.Name, "", t, nil
			}
			var ref string
			if err := json.Unmarshal(raw, &ref); err != nil {
				return "", "", "", fmt.Errorf("%s@odata.bind: %w", nav, err)
			}
			want := "/" + upstream.EntitySet(t) + "("
			if !strings.HasPrefix(ref, want) || !strings.HasSuffix(ref, ")") || !upstream.IsGUID(ref[len(want):len(ref)-1]) {
				return "", "", "", fmt.Errorf("%s@odata.bind: %q does not name a record of %s", nav, ref, upstream.EntitySet(t))
			}
			return fd.Name, strings.ToLower(ref[len(want) : len(ref)-1]), t, nil
		}
	}
	return "", "", "", fmt.Errorf("no navigation property %q on %s", nav, e)
}

func decodePartiesBody(raw json.RawMessage) ([]boundParty, error) {
	var ps []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, err
	}
	out := make([]boundParty, 0, len(ps))
	for i, p := range ps {
		var q boundParty
		for k, v := range p {
			switch k {
			case "participationtypemask":
				if err := json.Unmarshal(v, &q.Role); err != nil || q.Role < 1 || q.Role > 7 {
					return nil, fmt.Errorf("party %d: participationtypemask %s", i, v)
				}
			case "partyid_contact@odata.bind", "partyid_account@odata.bind", "partyid_systemuser@odata.bind":
				if q.bound != "" {
					return nil, fmt.Errorf("party %d: two partyid binds", i)
				}
				q.bound = strings.TrimSuffix(strings.TrimPrefix(k, "partyid_"), "@odata.bind")
				var ref string
				json.Unmarshal(v, &ref)
				pre := "/" + q.bound + "s("
				if !strings.HasPrefix(ref, pre) || !strings.HasSuffix(ref, ")") || !upstream.IsGUID(ref[len(pre):len(ref)-1]) {
					return nil, fmt.Errorf("party %d: bad %s %q", i, k, ref)
				}
				q.ContactID = strings.ToLower(ref[len(pre) : len(ref)-1])
			case "addressused":
				if err := json.Unmarshal(v, &q.Address); err != nil {
					return nil, fmt.Errorf("party %d: addressused: %w", i, err)
				}
			default:
				return nil, fmt.Errorf("party %d: unknown property %q", i, k)
			}
		}
		if q.Role == 0 || (q.ContactID == "") == (q.Address == "") {
			return nil, fmt.Errorf("party %d: needs participationtypemask and one of partyid or addressused", i)
		}
		out = append(out, q)
	}
	return out, nil
}

// typed checks a JSON value against a field kind and returns its canonical
// text.
func typed(k crm.Kind, raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "null" {
		return "", nil
	}
	switch k {
	case crm.Int, crm.Option:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%s is not an integer", s)
		}
		return strconv.FormatInt(n, 10), nil
	case crm.Bool:
		if s != "true" && s != "false" {
			return "", fmt.Errorf("%s is not a boolean", s)
		}
		return s, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%s is not a string", s)
	}
	switch k {
	case crm.Time:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return "", fmt.Errorf("%q is not a DateTimeOffset", v)
		}
		return t.UTC().Format(time.RFC3339), nil
	case crm.Date:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "", fmt.Errorf("%q is not a Date", v)
		}
	}
	return v, nil
}

// represent answers a record as the Web API does: attributes typed,
// lookups as _<attr>_value, @odata.etag, modifiedon, the key, and the
// parties when expanded.
func (s *Server) represent(r *Record, status int, expand string) answer {
	obj := s.object(r, expand)
	b, _ := json.Marshal(obj)
	h := http.Header{}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Set("ETag", r.etag())
	return answer{status: status, header: h, body: b}
}

func (s *Server) object(r *Record, expand string) map[string]any {
	obj := map[string]any{
		"@odata.etag":                   r.etag(),
		upstream.KeyAttribute(r.Entity): r.ID,
		"modifiedon":                    r.Modified.Format(time.RFC3339),
	}
	for name, v := range r.Fields {
		if name == "statuscode" {
			n, _ := strconv.Atoi(v)
			obj[name] = n
			continue
		}
		fd, _ := crm.LookupField(r.Entity, name)
		if fd.Kind == crm.Ref {
			if v == "" {
				obj["_"+name+"_value"] = nil
			} else {
				obj["_"+name+"_value"] = v
			}
			continue
		}
		if v == "" {
			obj[name] = nil
			continue
		}
		switch fd.Kind {
		case crm.Int, crm.Option:
			n, _ := strconv.ParseInt(v, 10, 64)
			obj[name] = n
		case crm.Bool:
			obj[name] = v == "true"
		default:
			obj[name] = v
		}
	}
	if r.Entity.IsActivity() && expand == upstream.PartiesProperty(r.Entity) {
		ps := []map[string]any{}
		for _, p := range r.Parties {
			m := map[string]any{"participationtypemask": p.Role, "_partyid_value": nil, "addressused": nil}
			if p.ContactID != "" {
				m["_partyid_value"] = p.ContactID
			}
			if p.Address != "" {
				m["addressused"] = p.Address
			}
			ps = append(ps, m)
		}
		obj[upstream.PartiesProperty(r.Entity)] = ps
	}
	return obj
}

// list answers a collection read: with change tracking (Prefer:
// odata.track-changes, $deltatoken) when enabled — the first read gives
// every row and an @odata.deltaLink, a delta read the rows changed since
// and, for a row deleted since, {"@odata.context": "…/$deletedEntity",
// "id": …} (https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems) —
// else with an optional
// $filter=modifiedon gt <time>; paged by $skiptoken, at most PageSize rows
// a page and fewer when Prefer: odata.maxpagesize asks
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results).
// $select returns only the columns named, with the key and the ETag
// ("Dataverse returns the primary key and @odata.etag whether you select
// them or not"; an unknown column is a 400:
// https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns).
func (s *Server) list(e crm.Entity, set string, q url.Values, h http.Header) answer {
	page := s.PageSize
	if page <= 0 {
		page = 50
	}
	for _, p := range strings.Split(h.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 5000 {
				page = min(page, n)
			}
		}
	}
	var sel map[string]bool
	if v := q.Get("$select"); v != "" {
		sel = map[string]bool{"@odata.etag": true, upstream.KeyAttribute(e): true}
		for _, c := range strings.Split(v, ",") {
			c = strings.TrimSpace(c)
			if _, ok := crm.LookupField(e, c); !ok && c != upstream.KeyAttribute(e) && c != "modifiedon" {
				s.violate("GET %s: $select of unknown column %q", set, c)
				return errAnswer(http.StatusBadRequest, "0x80060888", "Could not find a property named '"+c+"' on type 'Microsoft.Dynamics.CRM."+string(e)+"'.")
			}
			sel[c] = true
		}
	}
	type row struct {
		obj     map[string]any
		version int64
		mod     time.Time
	}
	var rows []row
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json; odata.metadata=minimal")
	tracking := s.ChangeTracking && (strings.Contains(h.Get("Prefer"), "odata.track-changes") || q.Has("$deltatoken"))
	var snapshot int64
	if tracking {
		var since int64
		if t := q.Get("$deltatoken"); t != "" {
			n, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				return errAnswer(http.StatusBadRequest, "0x0", "bad delta token")
			}
			since = n
		}
		snapshot = s.version
		seen := map[string]bool{}
		for i := len(s.changes) - 1; i >= 0; i-- {
			c := s.changes[i]
			if c.version <= since {
				break
			}
			if c.set != set || seen[c.id] {
				continue
			}
			seen[c.id] = true
			if r := s.recs[set+"("+c.id+")"]; r != nil && !c.deleted {
				rows = append(rows, row{s.object(r, ""), r.Version, r.Modified})
			} else if r == nil {
				rows = append(rows, row{map[string]any{
					"@odata.context": "$metadata#" + set + "/$deletedEntity", "id": c.id, "reason": "deleted"}, c.version, time.Time{}})
			}
		}
		hdr.Set("Preference-Applied", "odata.track-changes")
	} else {
		var after time.Time
		orEqual := false
		if f := q.Get("$filter"); f != "" {
			v, ok := strings.CutPrefix(f, "modifiedon gt ")
			if !ok {
				v, ok = strings.CutPrefix(f, "modifiedon ge ")
				orEqual = true
			}
			t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
			if !ok || err != nil {
				s.violate("GET %s: $filter %q", set, f)
				return errAnswer(http.StatusBadRequest, "0x0", "unsupported $filter")
			}
			after = t
		}
		for _, r := range s.recs {
			if r.Entity == e && (r.Modified.After(after) || orEqual && r.Modified.Equal(after)) {
				rows = append(rows, row{s.object(r, ""), r.Version, r.Modified})
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].version < rows[j].version })
	off := 0
	if t := q.Get("$skiptoken"); t != "" {
		var err error
		if off, err = strconv.Atoi(t); err != nil || off < 0 {
			return errAnswer(http.StatusBadRequest, "0x0", "bad skip token")
		}
	}
	off = min(off, len(rows))
	end := min(off+page, len(rows))
	vals := make([]map[string]any, 0, end-off)
	for _, r := range rows[off:end] {
		if sel != nil && r.obj["@odata.context"] == nil {
			for k := range r.obj {
				if !sel[k] && !sel[strings.TrimSuffix(strings.TrimPrefix(k, "_"), "_value")] {
					delete(r.obj, k)
				}
			}
		}
		vals = append(vals, r.obj)
	}
	out := map[string]any{"@odata.context": "$metadata#" + set, "value": vals}
	base := s.ts.URL + Root + set
	if end < len(rows) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", strconv.Itoa(end))
		out["@odata.nextLink"] = base + "?" + nq.Encode()
	} else if tracking {
		out["@odata.deltaLink"] = base + "?$deltatoken=" + strconv.FormatInt(snapshot, 10)
	}
	b, _ := json.Marshal(out)
	return answer{status: http.StatusOK, header: hdr, body: b}
}
