package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
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
	Pages   int // pages read
	Tracked int // entity sets read with change tracking
	Polled  int // entity sets read with $filter=modifiedon ge <last>
	Failed  int // entity sets that failed (see *PullError)
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
// row changed within the same second is never lost), which cannot see
// deletions. Every page link must stay on the service's host: the bearer
// token is never sent elsewhere.
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
	for _, set := range sets {
		err := c.pullSet(ctx, sink, set, o, &st)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return st, fmt.Errorf("pull %s: %w", set, err)
		}
		if pe == nil {
			pe = &PullError{Errs: map[string]error{}}
		}
		pe.Sets = append(pe.Sets, set)
		pe.Errs[set] = err
		st.Failed++
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
	if err := sink.SavePullState(ctx, set, PullMark{DeltaLink: newDelta, Last: maxMod, Seen: atMax}); err != nil {
		return fmt.Errorf("save pull state: %w", err)
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
