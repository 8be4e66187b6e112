#!/usr/bin/env bash
# Whole-process figures for one large vCard file: generates N contacts
# (default 100,000) as one VCF with fixtures/cmd/gen (our own generator,
# deterministic), then measures with /usr/bin/time the wall time and peak
# RSS of
#   crmbridge import big.vcf            (fresh store)
#   crmbridge import big.vcf            (unchanged file: skipped by fingerprint)
#   crmbridge import --force big.vcf    (every card read again, all unchanged)
#   crmbridge export --vcf out.vcf --all
# RUNS times each (default 3, a fresh store per run) and prints medians,
# minimum and maximum.
#
#   bench/vcf100k.sh            RUNS=5 N=100000 bench/vcf100k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
n=${N:-100000}
bin=bin/crmbridge
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
go build -o "$bin" ./cmd/crmbridge

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./fixtures/cmd/gen -kind vcf -n "$n" -seed 1 -o "$work/big.vcf"

# measure NAME CMD...: append "wall_seconds max_rss_kb" to $work/NAME.
measure() {
	local name=$1; shift
	/usr/bin/time -f '%e %M' -o "$work/t" "$@" >"$work/out.log" 2>&1 || {
		echo "bench: $name failed:" >&2; cat "$work/out.log" >&2; exit 1; }
	cat "$work/t" >> "$work/$name"
}

for i in $(seq "$runs"); do
	rm -rf "$work/store" "$work/out.vcf"
	mkdir -m 700 "$work/store"
	db="$work/store/crm.db"
	measure import "$bin" --quiet --db "$db" import "$work/big.vcf"
	measure reimport "$bin" --quiet --db "$db" import "$work/big.vcf"
	measure reread "$bin" --quiet --db "$db" import --force "$work/big.vcf"
	measure export "$bin" --quiet --db "$db" export --vcf "$work/out.vcf" --all
	cards=$(grep -c '^BEGIN:VCARD' "$work/out.vcf")
	[ "$cards" = "$n" ] || { echo "bench: export wrote $cards cards, want $n" >&2; exit 1; }
done

stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%s %s %s\n", m, a[1], a[NR]}'; }
printf 'file: %d contacts, %s bytes; %d runs each; %s\n' "$n" "$(stat -c %s "$work/big.vcf")" "$runs" "$(nproc) CPUs"
printf '%-40s %22s %24s\n' command 'wall s median (min-max)' 'peak RSS MiB median (min-max)'
for k in import reimport reread export; do
	case $k in
		import) label='crmbridge import (fresh store)' ;;
		reimport) label='crmbridge import (unchanged file)' ;;
		reread) label='crmbridge import --force' ;;
		export) label='crmbridge export --vcf --all' ;;
	esac
	read -r wm wl wh < <(awk '{print $1}' "$work/$k" | stats)
	read -r rm rl rh < <(awk '{print $2/1024}' "$work/$k" | stats)
	printf '%-40s %8.2f (%.2f-%.2f) %12.1f (%.1f-%.1f)\n' "$label" "$wm" "$wl" "$wh" "$rm" "$rl" "$rh"
done
