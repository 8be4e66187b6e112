package crmstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"crmbridge/crm"
)

// fieldExtras is the pseudo-field of a record's extra values.
const fieldExtras = "_extras"

// fieldGiven is a merge-base row of a source (not a field): which extra
// values of the record this source gives (claims), so that a newer
// version withdraws what it no longer gives and a value stays while any
// source still gives it (mergeExtras).
const fieldGiven = "_extras_given"

// canonExtras is the canonical form of extra values, compared by the
// merge: JSON in order.
func canonExtras(xs []crm.Extra) string {
	if len(xs) == 0 {
		return ""
	}
	b, _ := json.Marshal(xs)
	return string(b)
}

func parseExtras(s string) []crm.Extra {
	var xs []crm.Extra
	if s != "" {
		_ = json.Unmarshal([]byte(s), &xs)
	}
	return xs
}

// extraKey identifies an extra value for the union: the name
// case-insensitively, the value and the parameters.
func extraKey(x crm.Extra) string {
	p, _ := json.Marshal(x.Params)
	return strings.ToUpper(x.Name) + "\x00" + x.Value + "\x00" + string(p)
}

// unionExtras returns ours followed by the values of theirs not among
// them. Extras merge by union: a source adds the values it gives, and a
// value another source (or an earlier version) gave stays, because a
// value without a column is never lost for want of a place to put it.
func unionExtras(ours, theirs []crm.Extra) []crm.Extra {
	seen := make(map[string]bool, len(ours)+len(theirs))
	out := make([]crm.Extra, 0, len(ours)+len(theirs))
	for _, xs := range [][]crm.Extra{ours, theirs} {
		for _, x := range xs {
			if x.Name == "" {
				continue
			}
			if k := extraKey(x); !seen[k] {
				seen[k] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// valueHash identifies an extra value in a claims row: 16 hex digits of
// the SHA-256 of its extraKey.
func valueHash(x crm.Extra) string {
	h := sha256.Sum256([]byte(extraKey(x)))
	return hex.EncodeToString(h[:8])
}

// claims are the extra values one source gives a record (its fieldGiven
// row): the hashes (valueHash) of the values its newest version gave, and
// that version's time (crm.Incoming.ModifiedAt; zero when unknown). all
// stands for every value the record holds: a source of a store made
// before the values' sources were kept (migration 16), which may have
// given any of them.
//
// Row form: "*" for all; else the time (RFC 3339, "-" when unknown) and
// the hashes, sorted, separated by spaces; "" for none.
type claims struct {
	all bool
	at  time.Time
	hs  map[string]bool
}

func parseClaims(s string) claims {
	c := claims{hs: map[string]bool{}}
	if s == "*" {
		c.all = true
		return c
	}
	f := strings.Fields(s)
	if len(f) == 0 {
		return c
	}
	if f[0] != "-" {
		c.at, _ = time.Parse(time.RFC3339Nano, f[0])
	}
	for _, h := range f[1:] {
		c.hs[h] = true
	}
	return c
}

func (c claims) has(h string) bool { return c.all || c.hs[h] }

func (c claims) String() string {
	if c.all {
		return "*"
	}
	if len(c.hs) == 0 {
		return ""
	}
	hs := make([]string, 0, len(c.hs))
	for h := range c.hs {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	at := "-"
	if !c.at.IsZero() {
		at = c.at.UTC().Format(time.RFC3339Nano)
	}
	return at + " " + strings.Join(hs, " ")
}

// sourceClaims is one source's claims row on a record.
type sourceClaims struct {
	prov   int64
	kind   string
	origin string
	c      claims
}

// recordClaims returns the claims rows of the sources of record id.
func (t *Tx) recordClaims(id string) ([]sourceClaims, error) {
	rows, err := t.query(`SELECT p.id, p.kind, p.origin, b.value FROM base b JOIN provenance p ON p.id = b.provenance_id WHERE p.record_id = ? AND b.field = ?`, id, fieldGiven)
	if err != nil {
		return nil, fmt.Errorf("load sources of extras: %w", err)
	}
	defer rows.Close()
	var out []sourceClaims
	for rows.Next() {
		var sc sourceClaims
		var v string
		if err := rows.Scan(&sc.prov, &sc.kind, &sc.origin, &v); err != nil {
			return nil, fmt.Errorf("load sources of extras: %w", err)
		}
		sc.c = parseClaims(v)
		out = append(out, sc)
	}
	return out, rows.Err()
}

// extrasMerge is what one version of a source does to a record's extras
// (mergeExtras).
type extrasMerge struct {
	extras []crm.Extra // the record's extras after the version
	own    string      // the source's claims row after the version
	// superseded are the claims rows of the record's other iTIP sources
	// that the version supersedes, rewritten (provenance id -> row).
	superseded map[int64]string
}

// mergeExtras merges the extras of the whole version in (its
// Record.Extras, not nil) of the source provID (0: new) into the record's
// (ours), by these rules (DESIGN.md "Every value kept", README "Extra
// values"):
//
//   - every value the version gives is the record's (union), and the
//     source's claim (prevRow: its claims before);
//   - a version not older than the source's last one (by its own clock,
//     crm.Incoming.ModifiedAt) withdraws the source's claim on the values
//     it no longer gives, once-only or repeatable: a value a source
//     deleted (a second phone number removed in Outlook) goes with the
//     next version, as a field's value does;
//   - an older version withdraws nothing; it adds its values, except one
//     of a once-only name (crm.Incoming.Once) of which the source holds a
//     value from its newer version: never an overwrite by an older value;
//   - with supersede (a newer iTIP version that replaces the event, after
//     schedule.go), the versions of the event other sources of its format
//     gave (extrasFormat: iCalendar, or PST and .msg) count as this
//     source's own: they no longer give what this version does not (as
//     for fields). Another format's values stay: they may be what this
//     format cannot give (a PST item's MAPI properties);
//   - a withdrawn value leaves the record only when no other source still
//     claims it: a value two sources gave stays while either gives it.
//
// Extras have no local edit (the CLI and the upstream never change them),
// so sources are the only owners. A value no source claims (one kept by
// forget before, say) is never withdrawn.
func (t *Tx) mergeExtras(recID string, provID int64, ours []crm.Extra, in *crm.Incoming, prevRow string, supersede bool) (extrasMerge, error) {
	theirs := in.Record.Extras
	prev := parseClaims(prevRow)
	given := make(map[string]bool, len(theirs))
	for _, x := range theirs {
		given[valueHash(x)] = true
	}
	// Among iTIP versions the iTIP order decides, not the clocks.
	older := !supersede && !prev.at.IsZero() && (in.ModifiedAt.IsZero() || in.ModifiedAt.Before(prev.at))
	withdrawn := map[string]bool{}
	if !older {
		for _, x := range ours {
			if h := valueHash(x); prev.has(h) && !given[h] {
				withdrawn[h] = true
			}
		}
	}
	m := extrasMerge{}
	var others []sourceClaims
	if recID != "" && (supersede || len(withdrawn) > 0) {
		all, err := t.recordClaims(recID)
		if err != nil {
			return m, err
		}
		for _, sc := range all {
			if sc.prov == provID {
				continue
			}
			if !supersede || !fromScheduler(sc.kind) || extrasFormat(sc.kind) != extrasFormat(in.Source.Kind) {
				others = append(others, sc)
				continue
			}
			// A superseded version: what it gave and this version does
			// not is withdrawn; it still gives what this one gives.
			kept := claims{at: sc.c.at, hs: map[string]bool{}}
			for _, x := range ours {
				h := valueHash(x)
				switch {
				case !sc.c.has(h):
				case given[h]:
					kept.hs[h] = true
				default:
					withdrawn[h] = true
				}
			}
			if row := kept.String(); row != sc.c.String() {
				if m.superseded == nil {
					m.superseded = map[int64]string{}
				}
				m.superseded[sc.prov] = row
			}
		}
	}
	kept := make([]crm.Extra, 0, len(ours))
	for _, x := range ours {
		h := valueHash(x)
		if withdrawn[h] && !claimedBy(others, h) {
			continue
		}
		kept = append(kept, x)
	}
	add := theirs
	own := claims{at: in.ModifiedAt, hs: given}
	if older {
		// The source's newer value of a once-only name stands.
		held := map[string]bool{}
		for _, x := range ours {
			if prev.has(valueHash(x)) {
				held[strings.ToUpper(x.Name)] = true
			}
		}
		add = make([]crm.Extra, 0, len(theirs))
		own = claims{all: prev.all, at: prev.at, hs: prev.hs}
		for _, x := range theirs {
			h := valueHash(x)
			if in.Once[strings.ToUpper(x.Name)] && held[strings.ToUpper(x.Name)] && !prev.has(h) {
				continue
			}
			add = append(add, x)
			own.hs[h] = true
		}
	}
	m.extras = unionExtras(kept, add)
	m.own = own.String()
	return m, nil
}

// extrasFormat names the vocabulary of extra values a source kind gives:
// a PST item and a .msg file hold the same MAPI properties.
func extrasFormat(kind string) string {
	if kind == "msg" {
		return "pst"
	}
	return kind
}

// claimedBy reports whether any of the sources cs claims value h.
func claimedBy(cs []sourceClaims, h string) bool {
	for _, sc := range cs {
		if sc.c.has(h) {
			return true
		}
	}
	return false
}

// forgetExtras removes from record id the extra values the sources of
// origin claim and no other source of the record does (Forget), journaled
// with origin by and queued like any change; it reports whether the
// extras changed. A value no source claims stays.
func (t *Tx) forgetExtras(id string, e crm.Entity, origin, by string) (bool, error) {
	all, err := t.recordClaims(id)
	if err != nil {
		return false, err
	}
	var mine, others []sourceClaims
	for _, sc := range all {
		if sc.origin == origin {
			mine = append(mine, sc)
		} else {
			others = append(others, sc)
		}
	}
	if len(mine) == 0 {
		return false, nil
	}
	xs, err := t.loadExtras(id)
	if err != nil {
		return false, err
	}
	kept := make([]crm.Extra, 0, len(xs))
	for _, x := range xs {
		if h := valueHash(x); claimedBy(mine, h) && !claimedBy(others, h) {
			continue
		}
		kept = append(kept, x)
	}
	if len(kept) == len(xs) {
		return false, nil
	}
	old, now := canonExtras(xs), canonExtras(kept)
	if err := t.writeChanges(e, id, map[string]string{fieldExtras: old}, map[string]string{fieldExtras: now}, &crm.Record{Extras: kept}, nil, by, t.now, true); err != nil {
		return false, err
	}
	return true, t.touch(e, id, "update", []string{fieldExtras}, false, true)
}

func (t *Tx) loadExtras(id string) ([]crm.Extra, error) {
	rows, err := t.query(`SELECT name, value, params FROM extra WHERE record_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, fmt.Errorf("load extras: %w", err)
	}
	defer rows.Close()
	var xs []crm.Extra
	for rows.Next() {
		var x crm.Extra
		var params string
		if err := rows.Scan(&x.Name, &x.Value, &params); err != nil {
			return nil, fmt.Errorf("load extras: %w", err)
		}
		if params != "" {
			_ = json.Unmarshal([]byte(params), &x.Params)
		}
		xs = append(xs, x)
	}
	return xs, rows.Err()
}

func (t *Tx) writeExtras(id string, xs []crm.Extra, existing bool) error {
	if existing {
		if _, err := t.exec(`DELETE FROM extra WHERE record_id = ?`, id); err != nil {
			return fmt.Errorf("clear extras: %w", err)
		}
	}
	// One statement per record, not per value (execRows): a PST mail
	// brings five or six extras.
	rows := make([][]any, 0, len(xs))
	for i, x := range xs {
		params := ""
		if len(x.Params) > 0 {
			b, _ := json.Marshal(x.Params)
			params = string(b)
		}
		rows = append(rows, []any{id, i, x.Name, x.Value, params})
	}
	if len(rows) == 0 {
		return nil
	}
	const head = `INSERT INTO extra (record_id, ord, name, value, params)`
	if !existing {
		// A new record's extras go with its other rows (pending.go):
		// inserting them at once would first insert every pending row
		// (settle), a statement per table per record, as if nothing
		// were held (45 % of the CPU of importing cards that each keep
		// one extra value).
		if err := t.laterRows(head, ``, rows); err != nil {
			return fmt.Errorf("insert extras: %w", err)
		}
		return nil
	}
	if err := t.execRows(head, ``, rows); err != nil {
		return fmt.Errorf("insert extras: %w", err)
	}
	return nil
}
