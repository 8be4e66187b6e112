package crmstore

import "time"

// FieldVersions is what the three-way merge knows of one field
// (DESIGN.md "Change tracking and merge"): the value the source gave last
// time (Base, as stored: a digest for long values; HasBase is false when
// this source never gave the record before), the store's current value
// (Ours), the source's new value (Theirs), and when and by whom the
// store's value last changed (LocalAt zero when unknown).
type FieldVersions struct {
	Base    string
	HasBase bool
	Ours    string
	Theirs  string
	LocalAt time.Time
	LocalBy string
}

// Action is what the merge does with one field.
type Action int

// Actions of a merge decision.
const (
	// MergeKeep leaves the store's value.
	MergeKeep Action = iota
	// MergeTake writes the source's value.
	MergeTake
	// MergeConflict means both sides changed the field since the source's
	// last version; Decision.Winner says which value stays.
	MergeConflict
)

func (a Action) String() string {
	return [...]string{"keep", "take", "conflict"}[a]
}

// Winner of a conflict.
const (
	WinnerLocal    = "local"
	WinnerIncoming = "incoming"
	WinnerNone     = "none" // PolicyFail: the conflict stays open
)

// Decision is the merge's verdict on one field.
type Decision struct {
	Action Action
	Winner string // for Conflict: WinnerLocal, WinnerIncoming or WinnerNone
}

// Writes reports whether the decision writes the source's value.
func (d Decision) Writes() bool {
	return d.Action == MergeTake || d.Action == MergeConflict && d.Winner == WinnerIncoming
}

// needsLocalTime reports whether DecideField would look at v.LocalAt: only
// fields changed on both sides, or met for the first time from this
// source, do. The caller loads field states only when some field needs
// them.
func needsLocalTime(v FieldVersions) bool {
	return v.Theirs != v.Ours && !(v.HasBase && digest(v.Theirs) == v.Base) &&
		v.Ours != "" && !(v.HasBase && digest(v.Ours) == v.Base)
}

// DecideField is the merge decision for one field, a pure function of the
// field's three versions, the conflict policy and the time the source last
// changed the item (inAt; zero when unknown):
//
//   - equal values, or a value the source did not change since its base:
//     MergeKeep;
//   - a value only the source changed (or the store has none): MergeTake;
//   - no base (the first version from this source of a record the store
//     already has, e.g. the same mail from a PST and an EML): neither side
//     is known to have changed, so it is no conflict; the source's value is
//     taken under PolicyIncoming, or under PolicyNewest when inAt is known
//     and after LocalAt; otherwise MergeKeep;
//   - changed on both sides: MergeConflict, won by the store under PolicyLocal,
//     by the source under PolicyIncoming, by nobody under PolicyFail, and
//     under PolicyNewest by the source only when inAt is known and strictly
//     after LocalAt (a tie, or an unknown incoming time, keeps the store's
//     value; an unknown LocalAt counts as the oldest time).
func DecideField(v FieldVersions, policy Policy, inAt time.Time) Decision {
	if v.Theirs == v.Ours {
		return Decision{Action: MergeKeep}
	}
	if v.HasBase && digest(v.Theirs) == v.Base {
		return Decision{Action: MergeKeep} // the source did not change it
	}
	if v.Ours == "" || v.HasBase && digest(v.Ours) == v.Base {
		return Decision{Action: MergeTake} // changed by the source only
	}
	newer := !inAt.IsZero() && inAt.UTC().After(v.LocalAt)
	if !v.HasBase {
		if policy == PolicyIncoming || policy == PolicyNewest && newer {
			return Decision{Action: MergeTake}
		}
		return Decision{Action: MergeKeep}
	}
	d := Decision{Action: MergeConflict, Winner: WinnerLocal}
	switch policy {
	case PolicyIncoming:
		d.Winner = WinnerIncoming
	case PolicyFail:
		d.Winner = WinnerNone
	case PolicyLocal:
	default: // newest
		if newer {
			d.Winner = WinnerIncoming
		}
	}
	return d
}
