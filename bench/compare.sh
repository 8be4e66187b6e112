#!/usr/bin/env bash
# Whole-process comparison, side by side in one run: crmbridge import of a
# PST into a fresh store against readpst -S (Debian pst-utils) writing the
# same file's items as separate files. Alternates the two commands RUNS
# times and prints each one's median wall time and peak RSS, and the ratio.
#
#   bench/compare.sh [PST] (default: go-pst's enron.pst)
set -euo pipefail
cd "$(dirname "$0")/.."
pst=${1:-$(go list -m -f '{{.Dir}}' github.com/mooijtech/go-pst/v6)/data/enron.pst}
runs=${RUNS:-5}
bin=bin/crmbridge
[ -x "$bin" ] || go build -o "$bin" ./cmd/crmbridge
command -v readpst >/dev/null || { echo "bench: readpst not found (apt-get install pst-utils)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure NAME CMD...: append "wall_seconds max_rss_kb" to $work/NAME.
measure() {
	local name=$1; shift
	/usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>&1 || { echo "bench: $name failed" >&2; exit 1; }
	cat "$work/t" >> "$work/$name"
}

for i in $(seq "$runs"); do
	rm -rf "$work/store" "$work/out"; mkdir -p "$work/out"; mkdir -m 700 "$work/store"
	measure crmbridge "$bin" --quiet --db "$work/store/crm.db" import "$pst"
	measure readpst readpst -S -q -o "$work/out" "$pst"
	# Re-import of the unchanged file into the same store, and a forced
	# re-read of every item.
	measure reimport "$bin" --quiet --db "$work/store/crm.db" import "$pst"
	measure reread "$bin" --quiet --db "$work/store/crm.db" import --force "$pst"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }

printf 'file: %s (%s bytes), %d runs each, alternating\n' "$pst" "$(stat -c %s "$pst")" "$runs"
printf '%-34s %10s %12s\n' command 'median s' 'peak RSS MiB'
for n in readpst crmbridge reimport reread; do
	label=$n
	case $n in
		readpst) label='readpst -S' ;;
		crmbridge) label='crmbridge import (fresh store)' ;;
		reimport) label='crmbridge import (unchanged)' ;;
		reread) label='crmbridge import --force' ;;
	esac
	printf '%-34s %10.3f %12.1f\n' "$label" "$(col $n 1)" "$(awk -v k="$(col $n 2)" 'BEGIN {print k/1024}')"
done
awk -v a="$(col crmbridge 1)" -v b="$(col readpst 1)" -v r="$(col reimport 1)" \
	'BEGIN { printf "ratio crmbridge/readpst wall time: %.2f (target <= 1.0)\nratio re-import/import: %.3f (target < 0.1)\n", a/b, r/a }'
