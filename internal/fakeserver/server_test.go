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
