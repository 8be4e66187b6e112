package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// listContactCode is the createdfromcode of a list whose members are
// contacts. Dataverse sets it when the list is created (default 1 =
// account) and never lets it change, so a list is created with it:
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/list#BKMK_CreatedFromCode
const listContactCode = 2

// withListType adds createdfromcode = 2 (contact) to a list create's body.
func withListType(body []byte) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	obj["createdfromcode"] = listContactCode
	return json.Marshal(obj)
}

// SentMembers is the key of Queue.Done's sent map that carries a list's
// member contact ids as synced (a JSON array): the member merge base.
const SentMembers = "_members"

// MemberStats is what SyncMembers did.
type MemberStats struct {
	Added, Removed int
}

// ListMembers returns the contact ids (lower case, sorted) of list listID
// as the server holds them: GET lists(<id>)/listcontact_association,
// following @odata.nextLink.
func (c *Client) ListMembers(ctx context.Context, listID string) ([]string, error) {
	if !IsGUID(listID) {
		return nil, fmt.Errorf("list id %q is not a GUID", listID)
	}
	next := c.setURL("lists("+strings.ToLower(listID)+")/listcontact_association", url.Values{"$select": {"contactid"}})
	var out []string
	for next != "" {
		resp, err := c.getURL(ctx, next, "odata.maxpagesize=5000")
		if err != nil {
			return nil, fmt.Errorf("members of list %s: %w", listID, err)
		}
		if resp.Status != http.StatusOK {
			return nil, &StatusError{Op: "members of list " + listID, Response: *resp}
		}
		var page struct {
			Value []struct {
				ContactID string `json:"contactid"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, fmt.Errorf("members of list %s: %w", listID, err)
		}
		for _, v := range page.Value {
			out = append(out, strings.ToLower(v.ContactID))
		}
		next = page.Next
	}
	sort.Strings(out)
	return out, nil
}

// SyncMembers brings the server's members of list listID to the contacts
// want. With base nil it makes them exactly want. With a base (the
// members the server held at the last sync) it adds only the members
// want gained since the base and removes only those it lost, so members
// another user added or removed on the server meanwhile stay as they are
// (pull merges them into the store). It reads the server's members, adds
// the missing ones in one AddListMembersList (an unbound action:
// https://learn.microsoft.com/previous-versions/dynamicscrm-2016/developers-guide/mt607641(v=crm.8))
// and removes the others with RemoveMemberList, bound to the list
// (https://learn.microsoft.com/dotnet/api/microsoft.crm.sdk.messages.removememberlistrequest).
// It is safe to repeat after an unknown outcome: it starts from what the
// server holds, and a 404 for a member already gone counts as done.
func (c *Client) SyncMembers(ctx context.Context, listID string, want, base []string) (MemberStats, error) {
	var st MemberStats
	have, err := c.ListMembers(ctx, listID)
	if err != nil {
		return st, err
	}
	list := strings.ToLower(listID)
	wantSet := map[string]bool{}
	for _, id := range want {
		if !IsGUID(id) {
			return st, fmt.Errorf("list %s: member id %q is not a GUID", list, id)
		}
		wantSet[strings.ToLower(id)] = true
	}
	haveSet := map[string]bool{}
	for _, id := range have {
		haveSet[id] = true
	}
	var baseSet map[string]bool
	if base != nil {
		baseSet = map[string]bool{}
		for _, id := range base {
			baseSet[strings.ToLower(id)] = true
		}
	}
	var add []map[string]any
	for _, id := range sortedSet(wantSet) {
		if !haveSet[id] && (baseSet == nil || !baseSet[id]) {
			add = append(add, map[string]any{"contactid": id, "@odata.type": "Microsoft.Dynamics.CRM.contact"})
		}
	}
	if len(add) > 0 {
		body, _ := json.Marshal(map[string]any{
			"List":    map[string]any{"listid": list, "@odata.type": "Microsoft.Dynamics.CRM.list"},
			"Members": add,
		})
		resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "AddListMembersList", Body: body})
		if err != nil {
			return st, fmt.Errorf("add members to list %s: %w", list, err)
		}
		if resp.Status/100 != 2 {
			return st, &StatusError{Op: "add members to list " + list, Response: *resp}
		}
		st.Added = len(add)
	}
	for _, id := range have {
		if wantSet[id] || baseSet != nil && !baseSet[id] {
			continue // wanted, or gained on the server since the base
		}
		body, _ := json.Marshal(map[string]string{"EntityId": id})
		resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "lists(" + list + ")/Microsoft.Dynamics.CRM.RemoveMemberList", Body: body})
		if err != nil {
			return st, fmt.Errorf("remove member %s from list %s: %w", id, list, err)
		}
		if resp.Status/100 != 2 && resp.Status != http.StatusNotFound {
			return st, &StatusError{Op: "remove member " + id + " from list " + list, Response: *resp}
		}
		st.Removed++
	}
	return st, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
