package bridge

import (
	"sort"

	"crmbridge/crm"
)

// FileLedger accounts for every item of one file (DESIGN.md "Identity and
// idempotence": every item a source holds is created, merged into a named
// record, or reported as not imported). Found = Created + Merged +
// NotImported, always, and per entity too. Counts are counts committed: an
// item whose transaction failed is not imported, whatever Apply said.
type FileLedger struct {
	Path   string `json:"path"`
	Format Format `json:"format"`
	// Found counts the items the reader delimited: records read and items
	// it could not read.
	Found       int `json:"found"`
	Created     int `json:"created"`
	Merged      int `json:"merged"`
	NotImported int `json:"not_imported"`
	// Entities breaks the counts down per entity; items a reader could
	// not read far enough to know their entity are under "unknown".
	Entities map[crm.Entity]*Counts `json:"entities"`
	// MergedInto names the record each merged item went into (only with
	// ImportOptions.Detail).
	MergedInto []MergedItem `json:"merged_into,omitempty"`
	// Problems lists the items not imported, each with its place.
	Problems []string `json:"problems,omitempty"`
	// Extras counts values kept as extra values, per field name.
	Extras map[string]int `json:"extras,omitempty"`
}

// MergedItem is one item merged into a record the store already had
// (another source's version, or a duplicate within the same file).
type MergedItem struct {
	Pos     string     `json:"pos"`
	Entity  crm.Entity `json:"entity"`
	ID      string     `json:"id"`
	Changed bool       `json:"changed"` // the merge changed the record
	// Again is true when the item itself was imported before (a forced
	// re-read, a new version of the same item); false when it was found to
	// be a record of another item or source (a duplicate, the same mail
	// from a PST and an EML).
	Again bool `json:"again"`
	// Note says why the item was not applied, or only in part (an older
	// iTIP version, a COUNTER).
	Note string `json:"note,omitempty"`
}

// EntityUnknown files the items a reader lost before it knew what they
// were.
const EntityUnknown crm.Entity = "unknown"

func (l *FileLedger) counts(e crm.Entity) *Counts {
	if e == "" {
		e = EntityUnknown
	}
	c := l.Entities[e]
	if c == nil {
		c = &Counts{}
		l.Entities[e] = c
	}
	return c
}

// Balanced reports whether found = created + merged + not imported, for
// the file and for each entity.
func (l *FileLedger) Balanced() bool {
	if l.Found != l.Created+l.Merged+l.NotImported {
		return false
	}
	var found int
	for _, c := range l.Entities {
		if !c.Balanced() {
			return false
		}
		found += c.Found
	}
	return found == l.Found
}

// outcome is one item's fate, held until its transaction commits.
type outcome struct {
	// step is the item's place in its file (see replay); conflicts and
	// warnings are what it added to the summary's counts.
	step, conflicts, warnings int

	e       crm.Entity
	pos     string
	id      string
	created bool
	changed bool
	again   bool
	extras  []string // the extra values' names (upper case), one per value
	note    string
}

// ledgerBook keeps the ledger of the file being read: outcomes of the open
// transaction are pending until it commits.
type ledgerBook struct {
	l       *FileLedger
	sum     *Summary
	detail  bool
	pending []outcome
	// accounts counts accounts created in the open transaction.
	accounts int
}

// notImported books an item lost, at once: nothing about it waits for a
// commit.
func (b *ledgerBook) notImported(e crm.Entity, problem string) {
	b.l.Found++
	b.l.NotImported++
	c := b.l.counts(e)
	c.Found++
	c.NotImported++
	b.sum.counts(e).Found++
	b.sum.counts(e).NotImported++
	b.l.Problems = append(b.l.Problems, problem)
}

// committed books the pending outcomes after their transaction committed.
func (b *ledgerBook) committed() {
	for _, o := range b.pending {
		b.l.Found++
		c, s := b.l.counts(o.e), b.sum.counts(o.e)
		c.Found++
		s.Found++
		switch {
		case o.created:
			b.l.Created++
			c.Created++
			s.Created++
		default:
			b.l.Merged++
			c.Merged++
			s.Merged++
			if o.changed {
				c.Updated++
				s.Updated++
			} else {
				c.Unchanged++
				s.Unchanged++
			}
			if b.detail {
				b.l.MergedInto = append(b.l.MergedInto, MergedItem{Pos: o.pos, Entity: o.e, ID: o.id, Changed: o.changed, Again: o.again, Note: o.note})
			}
		}
		for _, f := range o.extras {
			if b.l.Extras == nil {
				b.l.Extras = map[string]int{}
			}
			b.l.Extras[f]++
			if b.sum.Extras == nil {
				b.sum.Extras = map[string]int{}
			}
			b.sum.Extras[f]++
		}
	}
	b.pending = b.pending[:0]
}

// failed books the pending outcomes as not imported: their transaction
// did not commit.
func (b *ledgerBook) failed(err error) {
	for _, o := range b.pending {
		b.notImported(o.e, o.pos+": not committed: "+err.Error())
	}
	b.pending = b.pending[:0]
	b.accounts = 0
}

// entity is what an item of the format is when its reader could not
// read it far enough to say: "" when the format holds several entities.
func (f Format) entity() crm.Entity {
	switch f {
	case FormatVCF:
		return crm.Contact
	case FormatEML, FormatMbox:
		return crm.Email
	}
	return ""
}

func sortedEntities(m map[crm.Entity]*Counts) []crm.Entity {
	es := make([]crm.Entity, 0, len(m))
	for e := range m {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i] < es[j] })
	return es
}
