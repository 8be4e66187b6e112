package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"crmbridge/crm"
)

// PullOptions tune one Pull run.
type PullOptions struct {
	// Sets lists the entity sets to pull (default: EntitySets()).
	Sets []string
	// PageSize is the odata.maxpagesize asked for (default 500).
	PageSize int
	// Progress, when set, is called with the set being read and the
	// counts so far after each page.
	Progress func(set string, st PullStats)
}

// PullStats counts what one Pull run did.
type PullStats struct {
	Applied int // records handed to Sink.Apply
	Deleted int // records handed to Sink.Delete
	Pages   int // pages read (keys-only listings included)
	Listed  int // entity sets whose keys were listed to find deletes (no change tracking)
	Tracked int // entity sets read with change tracking
	Polled  int // entity sets read with $filter=modifiedon ge <last>
	Failed  int // entity sets that failed (see *PullError)
	// Lists counts the marketing lists whose members were read;
	// MembersAdded and MembersRemoved the members the sink added and
	// removed; MembersUnknown the members whose contact it lacks.
	Lists, MembersAdded, MembersRemoved, MembersUnknown int
}

// PullError lists the entity sets a pull could not read, each with its
// error; the other sets were pulled.
type PullError struct {
	Sets []string // in the order pulled
	Errs map[string]error
}

func (e *PullError) Error() string {
	var b strings.Builder
	for i, s := range e.Sets {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "pull %s: %v", s, e.Errs[s])
	}
	return b.String()
}

// Unwrap returns the sets' errors.
func (e *PullError) Unwrap() []error {
	out := make([]error, 0, len(e.Sets))
	for _, s := range e.Sets {
		out = append(out, e.Errs[s])
	}
	return out
}

// Pull reads the server's changes since the last pull of each entity set
// and hands them to sink. It asks for change tracking (Prefer:
// odata.track-changes) and follows @odata.nextLink pages up to the
// @odata.deltaLink, which it saves for the next pull; on a server that does
// not track changes (SAP CAP) it falls back to $filter=modifiedon ge
// <last>, skipping the rows it already read at exactly <last> (so that a
// row changed within the same second is never lost). A poll cannot see
// deletions: when the sink is a KnownSink, a poll is followed by a
// keys-only listing of the set ($select=<key>, one request per 5,000
// rows), and every record the sink knows upstream that the listing lacks
// is handed to Delete; a full read (the first pull, or after an expired
// delta token) serves as that listing itself. Every page link must stay on
// the service's host: the bearer token is never sent elsewhere.
//
// Each entity set is pulled on its own: a set that fails (a 403 for a table
// the user may not read, a 404 for one the server lacks) is reported in a
// *PullError, and the others are still pulled. A cancelled ctx stops the
// pull at once.
func (c *Client) Pull(ctx context.Context, sink Sink, o PullOptions) (PullStats, error) {
	var st PullStats
	sets := o.Sets
	if len(sets) == 0 {
		sets = EntitySets()
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	var pe *PullError
	fail := func(set string, err error) {
		if pe == nil {
			pe = &PullError{Errs: map[string]error{}}
		}
		pe.Sets = append(pe.Sets, set)
		pe.Errs[set] = err
		st.Failed++
	}
	for _, set := range sets {
		err := c.pullSet(ctx, sink, set, o, &st)
		if err == nil {
			if ms, ok := sink.(MemberSink); ok && set == EntitySet(crm.List) {
				err = c.pullMembers(ctx, ms, o, &st)
				set = membersSet
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return st, fmt.Errorf("pull %s: %w", set, err)
		}
		fail(set, err)
	}
	if pe != nil {
		return st, pe
	}
	return st, nil
}

func (c *Client) pullSet(ctx context.Context, sink Sink, set string, o PullOptions, st *PullStats) error {
	e, ok := EntityOfSet(set)
	if !ok {
		return fmt.Errorf("unknown entity set")
	}
	mark, err := sink.PullState(ctx, set)
	if err != nil {
		return fmt.Errorf("pull state: %w", err)
	}
	delta := mark.DeltaLink
	seen := map[string]bool{}
	for _, s := range mark.Seen {
		seen[s] = true
	}
	var next string
	tracking := true
	switch {
	case delta != "":
		next = delta
	case !mark.Last.IsZero():
		tracking = false
		// ge, not gt: modifiedon has whole seconds, and a row changed in
		// the second of the last pull's newest row, after that pull, would
		// be lost; the rows already read at that time are skipped below.
		next = c.setURL(set, url.Values{
			"$filter":  {"modifiedon ge " + mark.Last.UTC().Format(time.RFC3339Nano)},
			"$orderby": {"modifiedon asc"},
		})
	default:
		next = c.setURL(set, nil)
	}
	newDelta := ""
	maxMod := mark.Last
	atMax := append([]string(nil), mark.Seen...)
	// full is true while the read is of the whole set (no delta, no
	// filter): then the ids read are every row the server holds.
	full := next == c.setURL(set, nil)
	ids := map[string]bool{}
	for next != "" {
		prefer := fmt.Sprintf("odata.maxpagesize=%d", o.PageSize)
		if tracking {
			prefer = "odata.track-changes," + prefer
		}
		resp, err := c.getURL(ctx, next, prefer)
		if err != nil {
			return err
		}
		if resp.Status == http.StatusGone && delta != "" {
			// Expired delta token: start over with a full read.
			delta, next = "", c.setURL(set, nil)
			full, ids = true, map[string]bool{}
			continue
		}
		if resp.Status != http.StatusOK {
			return &StatusError{Op: "GET " + set, Response: *resp}
		}
		st.Pages++
		var page struct {
			Value     []map[string]json.RawMessage `json:"value"`
			NextLink  string                       `json:"@odata.nextLink"`
			DeltaLink string                       `json:"@odata.deltaLink"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return fmt.Errorf("page: %w", err)
		}
		for _, obj := range page.Value {
			if id, gone := deletedEntity(obj); gone {
				if err := sink.Delete(ctx, e, id); err != nil {
					return fmt.Errorf("delete %s: %w", id, err)
				}
				st.Deleted++
				continue
			}
			var id string
			if err := json.Unmarshal(obj[KeyAttribute(e)], &id); err != nil || !IsGUID(id) {
				return fmt.Errorf("record without a %s key", KeyAttribute(e))
			}
			id = strings.ToLower(id)
			ids[id] = true
			fields, etag, mod, err := DecodeRecord(e, obj)
			if err != nil {
				return err
			}
			row := id + " " + etag
			if !tracking && mod.Equal(mark.Last) && seen[row] {
				continue // read by the last pull
			}
			if err := sink.Apply(ctx, e, id, fields, etag, mod); err != nil {
				return fmt.Errorf("apply %s: %w", id, err)
			}
			st.Applied++
			switch {
			case mod.After(maxMod):
				maxMod, atMax = mod, []string{row}
			case mod.Equal(maxMod):
				atMax = append(atMax, row)
			}
		}
		next = page.NextLink
		if page.DeltaLink != "" {
			newDelta = page.DeltaLink
		}
		if o.Progress != nil {
			o.Progress(set, *st)
		}
	}
	if tracking && newDelta != "" {
		st.Tracked++
	} else {
		st.Polled++
	}
	if ks, ok := sink.(KnownSink); ok && (full || newDelta == "") {
		// Deletes a delta cannot carry: a full read lists every row, so
		// a record known upstream and not in it was deleted (before the
		// first tracked read, or on a server without change tracking);
		// after a modifiedon poll, the keys are listed on their own.
		if !full {
			if ids, err = c.listKeys(ctx, set, e, st); err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			st.Listed++
		}
		if err := c.pullDeletes(ctx, ks, e, ids, st); err != nil {
			return err
		}
	}
	if err := sink.SavePullState(ctx, set, PullMark{DeltaLink: newDelta, Last: maxMod, Seen: atMax}); err != nil {
		return fmt.Errorf("save pull state: %w", err)
	}
	return nil
}

// membersSet names the list members in a *PullError: the entity set of
// Dataverse's listmember table.
const membersSet = "listmembers"

// pullMembers reads the members of every list the sink knows upstream
// and hands them to it, on a server with list members (Dataverse: WhoAmI
// answers); a plain OData service has none.
func (c *Client) pullMembers(ctx context.Context, ms MemberSink, o PullOptions, st *PullStats) error {
	_, dataverse, err := c.whoAmI(ctx)
	if err != nil {
		return err
	}
	if !dataverse {
		return nil
	}
	lists, err := ms.UpstreamIDs(ctx, crm.List)
	if err != nil {
		return fmt.Errorf("lists known upstream: %w", err)
	}
	for _, id := range lists {
		ids, err := c.ListMembers(ctx, id)
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			continue // the list is gone: the next pull of lists sees it
		}
		if err != nil {
			return err
		}
		mp, err := ms.ApplyMembers(ctx, id, ids)
		if err != nil {
			return fmt.Errorf("members of list %s: %w", id, err)
		}
		st.Lists++
		st.MembersAdded += mp.Added
		st.MembersRemoved += mp.Removed
		st.MembersUnknown += len(mp.Unknown)
		if o.Progress != nil {
			o.Progress(membersSet, *st)
		}
	}
	return nil
}

// keysPageSize is the page size asked for a keys-only listing: the most
// Dataverse gives ("you can specify a max page size up to 5,000",
// https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results).
const keysPageSize = 5000

// listKeys reads the ids of every row of set: GET <set>?$select=<key>
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns),
// one request per page of keysPageSize.
func (c *Client) listKeys(ctx context.Context, set string, e crm.Entity, st *PullStats) (map[string]bool, error) {
	key := KeyAttribute(e)
	ids := map[string]bool{}
	next := c.setURL(set, url.Values{"$select": {key}})
	for next != "" {
		resp, err := c.getURL(ctx, next, fmt.Sprintf("odata.maxpagesize=%d", keysPageSize))
		if err != nil {
			return nil, err
		}
		if resp.Status != http.StatusOK {
			return nil, &StatusError{Op: "GET " + set + " keys", Response: *resp}
		}
		st.Pages++
		var page struct {
			Value    []map[string]json.RawMessage `json:"value"`
			NextLink string                       `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, fmt.Errorf("page: %w", err)
		}
		for _, obj := range page.Value {
			var id string
			if err := json.Unmarshal(obj[key], &id); err != nil || !IsGUID(id) {
				return nil, fmt.Errorf("row without a %s key", key)
			}
			ids[strings.ToLower(id)] = true
		}
		next = page.NextLink
	}
	return ids, nil
}

// pullDeletes hands the sink a delete for every record it knows upstream
// in entity e that the server's complete listing ids lacks.
func (c *Client) pullDeletes(ctx context.Context, ks KnownSink, e crm.Entity, ids map[string]bool, st *PullStats) error {
	known, err := ks.UpstreamIDs(ctx, e)
	if err != nil {
		return fmt.Errorf("records known upstream: %w", err)
	}
	sort.Strings(known)
	for _, id := range known {
		if ids[strings.ToLower(id)] {
			continue
		}
		if err := ks.Delete(ctx, e, id); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		st.Deleted++
	}
	return nil
}

// deletedEntity recognises a deleted-entity entry of a delta response:
// OData 4.0 JSON format 15: "@odata.context": "…/$deletedEntity" with "id"
// (Dataverse), or "@removed" (OData 4.01).
func deletedEntity(obj map[string]json.RawMessage) (string, bool) {
	var ctxs string
	_ = json.Unmarshal(obj["@odata.context"], &ctxs)
	_, removed := obj["@removed"]
	if !strings.HasSuffix(ctxs, "$deletedEntity") && !removed {
		return "", false
	}
	var id string
	_ = json.Unmarshal(obj["id"], &id)
	if i := strings.LastIndexByte(id, '('); i >= 0 && strings.HasSuffix(id, ")") {
		id = id[i+1 : len(id)-1]
	}
	return strings.ToLower(id), IsGUID(id)
}

func (c *Client) setURL(set string, q url.Values) string {
	u := *c.base
	u.Path += set
	u.RawPath = ""
	// Spaces as %20, not '+': OData URLs follow RFC 3986, and CAP reads
	// '+' literally. (Encode escapes a literal '+' as %2B.)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// getURL GETs an absolute URL that must be on the service's host.
func (c *Client) getURL(ctx context.Context, raw, prefer string) (*Response, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", raw, err)
	}
	if !u.IsAbs() {
		u = c.base.ResolveReference(u)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return nil, fmt.Errorf("link %q leaves the service host %s", raw, c.base.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := c.setHeaders(req); err != nil {
		return nil, err
	}
	req.Header.Set("Prefer", prefer)
	resp, err := c.doer.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBatchBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}
