package fakeserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"crmbridge/bridge/upstream"
)

// List member rules (Dataverse style).
//
//   - createdfromcode is set when a list is created and never changes; its
//     default is 1 (account), 2 = contact, 4 = lead
//     (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/list#BKMK_CreatedFromCode).
//     A PATCH that changes it is refused here.
//   - AddListMembersList is an unbound action: POST AddListMembersList with
//     {"List": {"listid": …, "@odata.type": "Microsoft.Dynamics.CRM.list"},
//     "Members": [{"contactid": …, "@odata.type": "Microsoft.Dynamics.CRM.contact"}]}
//     (https://learn.microsoft.com/previous-versions/dynamicscrm-2016/developers-guide/mt607641(v=crm.8)).
//     Every member must be an existing record of the list's member type;
//     adding a member already in the list is harmless.
//   - RemoveMemberList is bound to the list: POST
//     lists(<id>)/Microsoft.Dynamics.CRM.RemoveMemberList with {"EntityId": …}
//     (https://learn.microsoft.com/dotnet/api/microsoft.crm.sdk.messages.removememberlistrequest).
//     This server answers 404 for a member not in the list (the client
//     must treat that as done).
//   - The members of a contact list are read through the list's
//     listcontact_association collection (the list–contact many-to-many
//     relationship of the list table:
//     https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/list#BKMK_listcontact_association):
//     GET lists(<id>)/listcontact_association. A list of another member
//     type (accounts, leads) has no contacts there.
//   - Deleting a contact removes it from every list.

// memberTypes are the createdfromcode values and their member entity.
var memberTypes = map[string]string{"1": "account", "2": "contact", "4": "lead"}

// Members returns the member ids of list id, sorted.
func (s *Server) Members(listID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for m := range s.members[strings.ToLower(listID)] {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// ListType returns the createdfromcode of list id ("" = no such list).
func (s *Server) ListType(listID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listType[strings.ToLower(listID)]
}

// SetListType sets list id's createdfromcode as another user's create
// would (2 = a contact list).
func (s *Server) SetListType(listID, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setListType(listID, code)
}

// AddMember adds a member as another user would (no checks).
func (s *Server) AddMember(listID, memberID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addMember(strings.ToLower(listID), strings.ToLower(memberID))
}

// RemoveMember removes a member as another user would.
func (s *Server) RemoveMember(listID, memberID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members[strings.ToLower(listID)], strings.ToLower(memberID))
}

func (s *Server) addMember(list, member string) {
	if s.members == nil {
		s.members = map[string]map[string]bool{}
	}
	if s.members[list] == nil {
		s.members[list] = map[string]bool{}
	}
	s.members[list][member] = true
}

// serveMembers answers the list member actions and reads, or ok=false when
// rel is not one of them.
func (s *Server) serveMembers(method, rel string, body []byte) (answer, bool) {
	if u, err := url.PathUnescape(rel); err == nil {
		rel = u
	}
	if s.Style != Dataverse && (rel == "AddListMembersList" || strings.HasPrefix(rel, "lists(") && strings.Contains(rel, ")/")) {
		return errAnswer(http.StatusNotFound, "404", "Invalid resource path"), true
	}
	switch {
	case rel == "AddListMembersList":
		if method != http.MethodPost {
			return errAnswer(http.StatusMethodNotAllowed, "0x0", "POST only"), true
		}
		var in struct {
			List    map[string]any   `json:"List"`
			Members []map[string]any `json:"Members"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.List == nil || in.Members == nil {
			s.violate("AddListMembersList: body %q", body)
			return errAnswer(http.StatusBadRequest, "0x80040203", "List and Members are required"), true
		}
		list, _ := in.List["listid"].(string)
		list = strings.ToLower(list)
		if in.List["@odata.type"] != "Microsoft.Dynamics.CRM.list" || !upstream.IsGUID(list) {
			s.violate("AddListMembersList: List %v", in.List)
			return errAnswer(http.StatusBadRequest, "0x80040203", "List must be a list entity reference"), true
		}
		if s.recs["lists("+list+")"] == nil {
			return errAnswer(http.StatusNotFound, "0x80040217", "list With Id = "+list+" Does Not Exist"), true
		}
		want := memberTypes[s.listType[list]]
		var ids []string
		for _, m := range in.Members {
			typ, _ := m["@odata.type"].(string)
			ent := strings.TrimPrefix(typ, "Microsoft.Dynamics.CRM.")
			id, _ := m[ent+"id"].(string)
			id = strings.ToLower(id)
			if ent == typ || !upstream.IsGUID(id) {
				s.violate("AddListMembersList: member %v", m)
				return errAnswer(http.StatusBadRequest, "0x80040203", "a member must be an entity reference"), true
			}
			if ent != want {
				return errAnswer(http.StatusBadRequest, "0x8004F002", "The member type "+ent+" does not match the list's member type "+want), true
			}
			if s.recs[ent+"s("+id+")"] == nil {
				return errAnswer(http.StatusNotFound, "0x80040217", ent+" With Id = "+id+" Does Not Exist"), true
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			s.addMember(list, id)
		}
		return answer{status: http.StatusNoContent, header: http.Header{}}, true
	case strings.HasPrefix(rel, "lists(") && strings.Contains(rel, ")/"):
		head, tail, _ := strings.Cut(rel, ")/")
		list := strings.ToLower(strings.TrimPrefix(head, "lists("))
		if !upstream.IsGUID(list) {
			s.violate("%s %s: bad list key", method, rel)
			return errAnswer(http.StatusBadRequest, "0x80060891", "bad key"), true
		}
		if s.recs["lists("+list+")"] == nil {
			return errAnswer(http.StatusNotFound, "0x80040217", "list With Id = "+list+" Does Not Exist"), true
		}
		switch {
		case tail == "Microsoft.Dynamics.CRM.RemoveMemberList" && method == http.MethodPost:
			var in struct {
				EntityID string `json:"EntityId"`
			}
			if err := json.Unmarshal(body, &in); err != nil || !upstream.IsGUID(in.EntityID) {
				s.violate("RemoveMemberList: body %q", body)
				return errAnswer(http.StatusBadRequest, "0x80040203", "EntityId is required"), true
			}
			id := strings.ToLower(in.EntityID)
			if !s.members[list][id] {
				return errAnswer(http.StatusNotFound, "0x80040217", "listmember With Id = "+id+" Does Not Exist"), true
			}
			delete(s.members[list], id)
			return answer{status: http.StatusNoContent, header: http.Header{}}, true
		case tail == "listcontact_association" && method == http.MethodGet:
			var ids []string
			if s.listType[list] == "2" {
				for id := range s.members[list] {
					ids = append(ids, id)
				}
			}
			sort.Strings(ids)
			vals := make([]map[string]any, 0, len(ids))
			for _, id := range ids {
				vals = append(vals, map[string]any{"contactid": id})
			}
			return jsonAnswer(map[string]any{"value": vals}), true
		}
		s.violate("%s %s: unsupported list request", method, rel)
		return errAnswer(http.StatusBadRequest, "0x0", "unsupported list request"), true
	}
	return answer{}, false
}

// setListType records a new list's createdfromcode (Dataverse's default
// is 1, account).
func (s *Server) setListType(id, code string) {
	if code == "" {
		code = "1"
	}
	if s.listType == nil {
		s.listType = map[string]string{}
	}
	s.listType[strings.ToLower(id)] = code
}

// dropMembers forgets the memberships of a deleted list or member.
func (s *Server) dropMembers(set, id string) {
	if set == "lists" {
		delete(s.members, id)
		delete(s.listType, id)
		return
	}
	for _, m := range s.members {
		delete(m, id)
	}
}

// cutCreatedFromCode takes createdfromcode out of a list's PATCH body.
func cutCreatedFromCode(body []byte) ([]byte, string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return body, "", nil // decodeBody reports it
	}
	raw, ok := obj["createdfromcode"]
	if !ok {
		return body, "", nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || memberTypes[strconv.Itoa(n)] == "" {
		return nil, "", fmt.Errorf("createdfromcode: %s is not a valid option", raw)
	}
	delete(obj, "createdfromcode")
	b, err := json.Marshal(obj)
	return b, strconv.Itoa(n), err
}
