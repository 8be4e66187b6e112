package fakeserver

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"crmbridge/crm"
)

const id1 = "00000001-0000-4000-8000-000000000001"

func do(t *testing.T, method, url string, h map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestStrict: requests a correct client never sends are refused and
// recorded as violations; correct ones are not.
func TestStrict(t *testing.T) {
	js := map[string]string{"Content-Type": "application/json", "If-None-Match": "*"}
	tests := []struct {
		name, method, path string
		h                  map[string]string
		body               string
		status             int
	}{
		{"ok", "PATCH", "contacts(" + id1 + ")", js, `{"lastname":"Lay","parentcustomerid_account@odata.bind":"/accounts(` + id1 + `)"}`, 204},
		{"unknown set", "PATCH", "people(" + id1 + ")", js, `{}`, 404},
		{"bad guid", "PATCH", "contacts(42)", js, `{}`, 400},
		{"unknown attribute", "PATCH", "contacts(" + id1 + ")", js, `{"shoesize":44}`, 400},
		{"local-only field", "PATCH", "contacts(" + id1 + ")", js, `{"company":"Enron"}`, 400},
		{"lookup as plain value", "PATCH", "contacts(" + id1 + ")", js, `{"parentcustomerid":"` + id1 + `"}`, 400},
		{"bind to wrong set", "PATCH", "contacts(" + id1 + ")", js, `{"parentcustomerid_account@odata.bind":"/contacts(` + id1 + `)"}`, 400},
		{"wrong type", "PATCH", "tasks(" + id1 + ")", js, `{"percentcomplete":"half"}`, 400},
		{"state without status", "PATCH", "tasks(" + id1 + ")", js, `{"statecode":1}`, 400},
		{"mismatched status", "PATCH", "tasks(" + id1 + ")", js, `{"statecode":1,"statuscode":6}`, 400},
		{"bad party", "PATCH", "emails(" + id1 + ")", js, `{"email_activity_parties":[{"participationtypemask":2}]}`, 400},
		{"unconditional", "PATCH", "accounts(" + id1 + ")", map[string]string{"Content-Type": "application/json"}, `{"name":"x"}`, 204},
		{"post to collection", "POST", "contacts", js, `{}`, 405},
		{"batch not multipart", "POST", "$batch", map[string]string{"Content-Type": "application/json"}, `{}`, 400},
	}
	for _, tc := range tests {
		s := New(Dataverse)
		base := s.Start()
		if tc.name == "ok" {
			s.Put(crm.Account, id1, map[string]string{"name": "Enron"}) // the row it binds to
		}
		resp, body := do(t, tc.method, base+tc.path, tc.h, tc.body)
		v := s.Violations()
		if resp.StatusCode != tc.status || (tc.name == "ok") != (len(v) == 0) {
			t.Errorf("%s: %d %s, violations %q", tc.name, resp.StatusCode, body, v)
		}
		s.Close()
	}
}

func TestBatchFraming(t *testing.T) {
	for _, style := range []Style{Dataverse, CAP} {
		s := New(style)
		base := s.Start()
		s.Put(crm.Account, id1, map[string]string{"name": "Enron"})
		part := func(url string) string {
			return "--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n" +
				"PATCH " + url + " HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: W/\"1\"\r\nContent-Length: 13\r\n\r\n{\"name\":\"x\"}\n\r\n--cs--\r\n"
		}
		body := "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" + part("accounts("+id1+")") +
			"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" + part("/api/data/v9.2/accounts("+id1+")") + "--b--\r\n"
		resp, out := do(t, "POST", base+"$batch", map[string]string{"Content-Type": "multipart/mixed; boundary=b", "Prefer": "odata.continue-on-error"}, body)
		// First part applies (ETag 1 → 2); the second is stale (Dataverse:
		// 412) or, on CAP, refused for its absolute path (404).
		want := map[Style]string{Dataverse: "HTTP/1.1 412", CAP: "HTTP/1.1 404"}[style]
		wantStatus := map[Style]int{Dataverse: 400, CAP: 200}[style]
		if resp.StatusCode != wantStatus || !strings.Contains(out, "HTTP/1.1 204") || !strings.Contains(out, want) {
			t.Errorf("style %d: %d\n%s", style, resp.StatusCode, out)
		}
		if r, _ := s.Record("accounts", id1); r.Fields["name"] != "x" {
			t.Errorf("not applied: %v", r.Fields)
		}
		s.Close()
	}
}

// TestDataverseRules: the server refuses what Dataverse refuses for its
// content (column length, date range, party types, organizer, binds to
// missing rows) without counting it as a protocol violation, and answers
// WhoAmI and the column metadata.
func TestDataverseRules(t *testing.T) {
	js := map[string]string{"Content-Type": "application/json", "If-None-Match": "*"}
	const c1 = "00000000-0000-4000-8000-0000000000c1"
	user := `"partyid_systemuser@odata.bind":"/systemusers(` + DefaultUserID + `)"`
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"subject at limit", "tasks(" + id1 + ")", `{"subject":"` + strings.Repeat("é", 200) + `"}`, 204},
		{"subject too long", "tasks(" + id1 + ")", `{"subject":"` + strings.Repeat("x", 201) + `"}`, 400},
		{"po box too long", "contacts(" + id1 + ")", `{"address1_postofficebox":"` + strings.Repeat("9", 21) + `"}`, 400},
		{"astral chars count twice", "contacts(" + id1 + ")", `{"suffix":"` + strings.Repeat("😀", 6) + `"}`, 400},
		{"birthdate 1604", "contacts(" + id1 + ")", `{"birthdate":"1604-03-01"}`, 400},
		{"birthdate 1753", "contacts(" + id1 + ")", `{"birthdate":"1753-01-01"}`, 204},
		{"task parties", "tasks(" + id1 + ")", `{"task_activity_parties":[{"participationtypemask":2,"addressused":"a@x"}]}`, 400},
		{"organizer address", "appointments(" + id1 + ")", `{"appointment_activity_parties":[{"participationtypemask":7,"addressused":"a@x"}]}`, 400},
		{"organizer contact", "appointments(" + id1 + ")", `{"appointment_activity_parties":[{"participationtypemask":7,"partyid_contact@odata.bind":"/contacts(` + c1 + `)"}]}`, 400},
		{"organizer user", "appointments(" + id1 + ")", `{"appointment_activity_parties":[{"participationtypemask":7,` + user + `},{"participationtypemask":5,"addressused":"a@x"}]}`, 204},
		{"two organizers", "appointments(" + id1 + ")", `{"appointment_activity_parties":[{"participationtypemask":7,` + user + `},{"participationtypemask":7,` + user + `}]}`, 400},
		{"sender on appointment", "appointments(" + id1 + ")", `{"appointment_activity_parties":[{"participationtypemask":1,"addressused":"a@x"}]}`, 400},
		{"bound to existing contact", "emails(" + id1 + ")", `{"email_activity_parties":[{"participationtypemask":2,"partyid_contact@odata.bind":"/contacts(` + c1 + `)"}]}`, 204},
		{"bound to missing contact", "emails(" + id1 + ")", `{"email_activity_parties":[{"participationtypemask":2,"partyid_contact@odata.bind":"/contacts(` + id1 + `)"}]}`, 404},
		{"bound to missing account", "contacts(" + id1 + ")", `{"lastname":"Lay","parentcustomerid_account@odata.bind":"/accounts(` + id1 + `)"}`, 404},
		{"bound to existing contact", "contacts(" + id1 + ")", `{"lastname":"Lay","parentcustomerid_contact@odata.bind":"/contacts(` + c1 + `)"}`, 204},
		{"unknown user", "emails(" + id1 + ")", `{"email_activity_parties":[{"participationtypemask":1,"partyid_systemuser@odata.bind":"/systemusers(` + id1 + `)"}]}`, 404},
	}
	for _, tc := range tests {
		s := New(Dataverse)
		base := s.Start()
		s.Put(crm.Contact, c1, map[string]string{"lastname": "Lay"})
		resp, body := do(t, "PATCH", base+tc.path, js, tc.body)
		if resp.StatusCode != tc.status || len(s.Violations()) != 0 {
			t.Errorf("%s: %d %s, violations %q", tc.name, resp.StatusCode, body, s.Violations())
		}
		s.Close()
	}
	s := New(Dataverse)
	s.UserEmail = "me@example.com"
	base := s.Start()
	defer s.Close()
	if _, body := do(t, "GET", base+"WhoAmI", nil, ""); !strings.Contains(body, `"UserId":"`+DefaultUserID+`"`) {
		t.Errorf("WhoAmI: %s", body)
	}
	if _, body := do(t, "GET", base+"systemusers("+DefaultUserID+")?$select=internalemailaddress", nil, ""); !strings.Contains(body, "me@example.com") {
		t.Errorf("systemuser: %s", body)
	}
	_, body := do(t, "GET", base+"EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength", nil, "")
	if !strings.Contains(body, `{"LogicalName":"address1_postofficebox","MaxLength":20}`) {
		t.Errorf("metadata: %s", body)
	}
	s.NoMetadata = true
	if resp, _ := do(t, "GET", base+"EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata", nil, ""); resp.StatusCode != 403 {
		t.Errorf("metadata without privilege: %d", resp.StatusCode)
	}
}

// TestSelectAndPageSize: $select keeps the columns named plus the key and
// the ETag; an unknown column is refused; Prefer: odata.maxpagesize
// makes pages smaller.
func TestSelectAndPageSize(t *testing.T) {
	s := New(Dataverse)
	base := s.Start()
	defer s.Close()
	s.Put(crm.Contact, id1, map[string]string{"lastname": "Lay", "firstname": "Ken"})
	s.Put(crm.Contact, "00000002-0000-4000-8000-000000000002", map[string]string{"lastname": "Skilling"})
	resp, body := do(t, "GET", base+"contacts?$select=contactid", map[string]string{"Prefer": "odata.maxpagesize=1"}, "")
	if resp.StatusCode != 200 || strings.Contains(body, "Lay") || strings.Contains(body, "modifiedon") ||
		!strings.Contains(body, `"contactid":"`+id1+`"`) || !strings.Contains(body, "@odata.etag") || !strings.Contains(body, "@odata.nextLink") {
		t.Errorf("keys only, one a page: %d %s", resp.StatusCode, body)
	}
	if _, body := do(t, "GET", base+"contacts?$select=lastname", nil, ""); !strings.Contains(body, "Lay") || strings.Contains(body, "Ken") {
		t.Errorf("one column: %s", body)
	}
	if resp, _ := do(t, "GET", base+"contacts?$select=shoesize", nil, ""); resp.StatusCode != 400 {
		t.Errorf("unknown column: %d", resp.StatusCode)
	}
}
