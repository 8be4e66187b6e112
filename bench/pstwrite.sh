#!/usr/bin/env bash
# PST write speed, side by side in one run: crmbridge export --all --pst of a
# store holding a PST's records (default: go-pst's enron.pst) against
# readpst -S (Debian pst-utils) reading the PST crmbridge wrote. Alternates
# the two RUNS times and prints each one's median wall time and peak RSS,
# and the ratio. Not a test: nothing here is asserted.
#
#   bench/pstwrite.sh [PST]
set -euo pipefail
cd "$(dirname "$0")/.."
pst=${1:-$(go list -m -f '{{.Dir}}' github.com/mooijtech/go-pst/v6)/data/enron.pst}
runs=${RUNS:-5}
bin=bin/crmbridge
[ -x "$bin" ] || CGO_ENABLED=0 go build -o "$bin" ./cmd/crmbridge  # static, as make build
command -v readpst >/dev/null || { echo "bench: readpst not found (apt-get install pst-utils)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

measure() {
	local name=$1; shift
	/usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>&1 || { echo "bench: $name failed" >&2; exit 1; }
	cat "$work/t" >> "$work/$name"
}

mkdir -p -m 700 "$work/store"
"$bin" --quiet --db "$work/store/crm.db" import "$pst" >/dev/null
for i in $(seq "$runs"); do
	rm -rf "$work/out" "$work/out.pst"; mkdir -p "$work/out"
	measure export "$bin" --quiet --db "$work/store/crm.db" export --all --pst "$work/out.pst"
	measure readpst readpst -S -q -o "$work/out" "$work/out.pst"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }

printf 'source: %s; written: %s bytes; %d runs each, alternating\n' "$pst" "$(stat -c %s "$work/out.pst")" "$runs"
printf '%-40s %10s %12s\n' command 'median s' 'peak RSS MiB'
printf '%-40s %10.3f %12.1f\n' 'crmbridge export --all --pst' "$(col export 1)" "$(awk -v k="$(col export 2)" 'BEGIN {print k/1024}')"
printf '%-40s %10.3f %12.1f\n' 'readpst -S of that PST' "$(col readpst 1)" "$(awk -v k="$(col readpst 2)" 'BEGIN {print k/1024}')"
awk -v a="$(col export 1)" -v b="$(col readpst 1)" 'BEGIN { printf "ratio write/readpst-read wall time: %.2f\n", a/b }'
