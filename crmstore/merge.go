package crmstore

import (
	"strings"
	"time"
)

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

// mergeGroups are fields that merge as one value: an appointment's start,
// end, all-day flag and zone are one span, and taking some of them from
// one version and the rest from another mixes all-day and timed (an
// all-day event with a 21:00Z start, an end from another day).
var mergeGroups = [][]string{{"isalldayevent", "scheduledend", "scheduledstart", "timezone"}}

// groupVersions joins the versions of a group's fields that the source
// gives (names and fields as apply holds them, names sorted) into one
// FieldVersions: values joined in group order (each digested, as bases
// are), HasBase when every one has a base, LocalAt and LocalBy of the
// newest local change among them. ok is false when the source gives none.
func groupVersions(group, names []string, fields []FieldVersions) (v FieldVersions, members []int, ok bool) {
	var base, ours, theirs []string
	v.HasBase = true
	oursEmpty := true
	for _, g := range group {
		i := indexOf(names, g)
		if i < 0 {
			continue // the source says nothing of it: the store's stays
		}
		f := fields[i]
		members = append(members, i)
		base, ours, theirs = append(base, f.Base), append(ours, digest(f.Ours)), append(theirs, digest(f.Theirs))
		v.HasBase = v.HasBase && f.HasBase
		oursEmpty = oursEmpty && f.Ours == ""
		if f.LocalAt.After(v.LocalAt) {
			v.LocalAt, v.LocalBy = f.LocalAt, f.LocalBy
		}
	}
	if len(members) == 0 {
		return v, nil, false
	}
	v.Base = digest(strings.Join(base, "\x00"))
	v.Theirs = digest(strings.Join(theirs, "\x00"))
	if !oursEmpty {
		v.Ours = digest(strings.Join(ours, "\x00"))
	}
	return v, members, true
}

func indexOf(names []string, n string) int {
	for i, s := range names {
		if s == n {
			return i
		}
	}
	return -1
}

// decideGroups returns the decision for each field of a merge group the
// source gives: DecideField of the group's joined versions, so that the
// group is kept whole or taken whole; and, for each, who made the newest
// local change of its group.
func decideGroups(names []string, fields []FieldVersions, policy Policy, inAt time.Time) (map[string]Decision, map[string]string) {
	out, by := map[string]Decision{}, map[string]string{}
	for _, g := range mergeGroups {
		v, members, ok := groupVersions(g, names, fields)
		if !ok {
			continue
		}
		d := DecideField(v, policy, inAt)
		for _, i := range members {
			by[names[i]] = v.LocalBy
			if fields[i].Theirs == fields[i].Ours {
				out[names[i]] = Decision{Action: MergeKeep}
			} else {
				out[names[i]] = d
			}
		}
	}
	return out, by
}

// groupsNeedLocalTime reports whether decideGroups would look at LocalAt.
func groupsNeedLocalTime(names []string, fields []FieldVersions) bool {
	for _, g := range mergeGroups {
		if v, _, ok := groupVersions(g, names, fields); ok && needsLocalTime(v) {
			return true
		}
	}
	return false
}
