package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

// Hand-written $batch answers in each server's style (CRLF line ends).
var (
	// Dataverse: the batch is 400 when a change set failed; the failed
	// change set is answered by a single application/http part.
	dataverseBatch = crlf(`--batchresponse_1
Content-Type: multipart/mixed; boundary=changesetresponse_a

--changesetresponse_a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
ETag: W/"1001"
OData-EntityId: https://org.crm.dynamics.com/api/data/v9.2/contacts(00000001-0000-4000-8000-000000000001)


--changesetresponse_a--
--batchresponse_1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 412 Precondition Failed
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}
--batchresponse_1--
`)
	// CAP: 200 for the batch, the failing change set's 412 inside it.
	capBatch = crlf(`--batch_2
content-type: multipart/mixed;boundary=changeset_b

--changeset_b
content-type: application/http
content-transfer-encoding: binary
content-id: 1

HTTP/1.1 200 OK
odata-version: 4.0
content-type: application/json; charset=utf-8

{"@odata.etag":"W/\"2026-11-25T13:36:33.291Z\"","contactid":"00000001-0000-4000-8000-000000000001"}
--changeset_b--
--batch_2
content-type: multipart/mixed;boundary=changeset_c

--changeset_c
content-type: application/http
content-transfer-encoding: binary
content-id: 1

HTTP/1.1 412 Precondition Failed
odata-version: 4.0
content-type: application/json; charset=utf-8

{"error":{"message":"Precondition Failed","code":"412","@Common.numericSeverity":4}}
--changeset_c--
--batch_2--
`)
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestReadBatch(t *testing.T) {
	tests := []struct {
		name, ct, body string
		status         []int
		etag           []string
		msg            string
	}{
		{"dataverse", "multipart/mixed; boundary=batchresponse_1", dataverseBatch, []int{204, 412},
			[]string{`W/"1001"`, ""}, "412 Precondition Failed: 0x80040237: A record with matching key values already exists."},
		{"cap", "multipart/mixed; boundary=batch_2", capBatch, []int{200, 412},
			[]string{`W/"2026-11-25T13:36:33.291Z"`, ""}, "412 Precondition Failed: 412: Precondition Failed"},
	}
	for _, tc := range tests {
		rs, err := readBatch(tc.ct, strings.NewReader(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(rs) != len(tc.status) {
			t.Fatalf("%s: %d responses", tc.name, len(rs))
		}
		for i, r := range rs {
			if r.Status != tc.status[i] || responseETag(&r) != tc.etag[i] {
				t.Errorf("%s part %d: status %d etag %q", tc.name, i, r.Status, responseETag(&r))
			}
		}
		if got := rs[1].ErrorMessage(); got != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.name, got, tc.msg)
		}
	}
	if _, err := readBatch("application/json", strings.NewReader("{}")); err != errNotMultipart {
		t.Errorf("JSON batch answer: %v", err)
	}
	// A truncated answer keeps the parts read so far and reports the rest.
	cut := capBatch[:strings.Index(capBatch, "--batch_2\r\ncontent-type: multipart/mixed;boundary=changeset_c")+40]
	rs, err := readBatch("multipart/mixed; boundary=batch_2", strings.NewReader(cut))
	if err == nil || len(rs) != 1 || rs[0].Status != 200 {
		t.Errorf("truncated: %d responses, err %v", len(rs), err)
	}
}

// TestWriteBatchRoundTrip reads what writeBatch writes with our own
// reader's building blocks and checks the framing.
func TestWriteBatchFraming(t *testing.T) {
	reqs := []Request{
		{Method: "PATCH", Path: "contacts(00000001-0000-4000-8000-000000000001)", Header: map[string][]string{"If-Match": {`W/"7"`}}, Body: []byte(`{"lastname":"Lay"}`)},
		{Method: "DELETE", Path: "tasks(00000002-0000-4000-8000-000000000002)", Header: map[string][]string{"If-Match": {"*"}}},
	}
	var b bytes.Buffer
	ct, err := writeBatch(&b, reqs)
	if err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if !strings.HasPrefix(ct, "multipart/mixed; boundary=") || strings.Count(s, "Content-Type: multipart/mixed; boundary=") != 2 ||
		strings.Count(s, "Content-Transfer-Encoding: binary") != 2 || !strings.Contains(s, "\r\nPATCH contacts(00000001-0000-4000-8000-000000000001) HTTP/1.1\r\n") ||
		!strings.Contains(s, "Content-Length: 18\r\n") || !strings.Contains(s, "\r\nDELETE tasks(00000002-0000-4000-8000-000000000002) HTTP/1.1\r\nIf-Match: *\r\n") {
		t.Errorf("batch body:\n%s", s)
	}
}

// TestEncodeBody checks request bodies against golden files written by
// hand from the Dataverse Web API documentation.
func TestEncodeBody(t *testing.T) {
	ct, acct := "00000001-0000-4000-8000-000000000001", "00000002-0000-4000-8000-000000000002"
	resolve := func(_ context.Context, id string) (crm.Entity, error) {
		if id == acct {
			return crm.Account, nil
		}
		return crm.Contact, nil
	}
	tests := []struct {
		name    string
		e       crm.Entity
		fields  map[string]string
		parties []crm.Party
	}{
		{"contact", crm.Contact, map[string]string{"firstname": "Jeff", "lastname": "Skilling",
			"parentcustomerid": acct, "birthdate": "1953-11-25", "jobtitle": ""}, nil},
		{"email", crm.Email, map[string]string{"subject": "Q3", "statecode": "1", "directioncode": "true",
			"senton": "2001-05-14T16:39:00Z", "regardingobjectid": acct, "prioritycode": "2"},
			[]crm.Party{{Role: crm.RoleSender, ContactID: ct}, {Role: crm.RoleCc, Address: "Kay.Mann@Enron.com", Name: "Kay"}}},
		{"task-status-only", crm.Task, map[string]string{"statuscode": "6"}, nil},
		{"opportunity-unlink", crm.Opportunity, map[string]string{"parentaccountid": "", "statecode": "2", "estimatedvalue": "1200"}, nil},
	}
	for _, tc := range tests {
		b, err := testBody(tc.e, tc.fields, tc.parties, resolve)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var v any
		json.Unmarshal(b, &v)
		got, _ := json.MarshalIndent(v, "", "  ")
		got = append(got, '\n')
		fixtures.Golden(t, filepath.Join("testdata", "body-"+tc.name+".json"), got, *update)
	}
	bad := []struct {
		e      crm.Entity
		fields map[string]string
	}{
		{crm.Contact, map[string]string{"company": "local only"}},
		{crm.Contact, map[string]string{"nosuchfield": "x"}},
		{crm.Contact, map[string]string{"birthdate": "25/11/1953"}},
		{crm.Contact, map[string]string{"parentcustomerid": "not-a-guid"}},
		{crm.Task, map[string]string{"percentcomplete": "half"}},
		{crm.Task, map[string]string{"statecode": "9"}},
		{crm.Task, map[string]string{"statuscode": "99"}},
		{crm.Email, map[string]string{"directioncode": "yes"}},
		{crm.Email, map[string]string{"senton": "yesterday"}},
	}
	for _, tc := range bad {
		if _, err := testBody(tc.e, tc.fields, nil, nil); err == nil {
			t.Errorf("%s %v: no error", tc.e, tc.fields)
		}
	}
	if _, err := encodeBody(context.Background(), crm.Contact, nil, []wireParty{{Role: 2, Address: "a@b"}}, true, nil); err == nil {
		t.Errorf("contact with parties: no error")
	}
	if _, err := encodeBody(context.Background(), crm.Email, nil, []wireParty{{Role: 9, Address: "a@b"}}, true, nil); err == nil {
		t.Errorf("party role 9: no error")
	}
}

// testBody encodes a body as push does, without the steps that ask the
// server (column limits, the calling user).
func testBody(e crm.Entity, fields map[string]string, parties []crm.Party, resolve RefResolver) ([]byte, error) {
	c := &Client{resolve: resolve}
	ws, _, err := c.parties(context.Background(), e, parties)
	if err != nil {
		return nil, err
	}
	return encodeBody(context.Background(), e, fields, ws, parties != nil, resolve)
}

func TestDecodeRecord(t *testing.T) {
	body := `{"@odata.etag":"W/\"123\"","contactid":"00000001-0000-4000-8000-000000000001","firstname":"Jeff",
	"_parentcustomerid_value":"00000002-0000-4000-8000-00000000000A","birthdate":"1953-11-25","jobtitle":null,
	"modifiedon":"2026-11-25T13:36:33.291Z","company":"not upstream","numberofchildren":2}`
	var obj map[string]json.RawMessage
	json.Unmarshal([]byte(body), &obj)
	f, etag, mod, err := DecodeRecord(crm.Contact, obj)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"firstname": "Jeff", "parentcustomerid": "00000002-0000-4000-8000-00000000000a", "birthdate": "1953-11-25", "jobtitle": ""}
	if len(f) != len(want) || etag != `W/"123"` || mod.Format("15:04:05.000") != "13:36:33.291" {
		t.Errorf("fields %v etag %q mod %v", f, etag, mod)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	// CAP's Timestamp has milliseconds, DateTime none; both canonical.
	obj = map[string]json.RawMessage{"senton": json.RawMessage(`"2001-05-14T16:39:00.000Z"`), "directioncode": json.RawMessage(`true`), "prioritycode": json.RawMessage(`2.0`)}
	f, _, _, _ = DecodeRecord(crm.Email, obj)
	if f["senton"] != "2001-05-14T16:39:00Z" || f["directioncode"] != "true" || f["prioritycode"] != "2" {
		t.Errorf("email fields %v", f)
	}
}

func FuzzReadBatch(f *testing.F) {
	f.Add("batchresponse_1", dataverseBatch)
	f.Add("batch_2", capBatch)
	f.Add("b", "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, boundary, body string) {
		rs, _ := readBatch("multipart/mixed; boundary=\""+boundary+"\"", strings.NewReader(body))
		if len(rs) > maxBatchParts {
			t.Fatalf("%d parts", len(rs))
		}
		for _, r := range rs {
			if len(r.Body) > maxBodyBytes {
				t.Fatalf("body of %d bytes", len(r.Body))
			}
			_ = r.ErrorMessage()
			_ = responseETag(&r)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(`{"@odata.etag":"W/\"1\"","firstname":"a","_parentcustomerid_value":null,"birthdate":"2001-01-01T00:00:00Z"}`)
	f.Add(`{"senton":"x","statecode":1e400,"directioncode":"true"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &obj) != nil {
			return
		}
		for _, e := range []crm.Entity{crm.Contact, crm.Email} {
			fields, _, _, err := DecodeRecord(e, obj)
			if err != nil {
				continue
			}
			for k := range fields {
				if fd, ok := crm.LookupField(e, k); !ok || !fd.Upstream {
					t.Fatalf("decoded non-upstream field %q", k)
				}
			}
		}
	})
}

var _ = io.EOF
