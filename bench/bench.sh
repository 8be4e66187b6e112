#!/usr/bin/env bash
# make bench: every performance figure of DESIGN.md side by side with its
# anchor, measured in one run as whole processes with /usr/bin/time (wall
# seconds, CPU seconds user+sys, peak RSS), for crmbridge and for the anchor.
# Each pair alternates A B A B ... RUNS times and the table shows medians and
# the ratios of the medians, of wall time and of CPU time (on a loaded
# machine the CPU ratio is the steadier one). Nothing is asserted: the
# targets are printed next to the figures, for a person to read. The last
# line is the script's own elapsed time (target: 5 minutes).
#
#   bench/bench.sh                  the default figures
#   RUNS=5 bench/bench.sh           more runs per pair
#   N=20000 MBOX_N=10000 bench/bench.sh   smaller inputs
#   BENCH_FULL=1 bench/bench.sh     also 1,000,000 contacts and the 1,000,000-record
#                                   store (status, list, show)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
runs=${RUNS:-3}
big_runs=${BIG_RUNS:-1}
n=${N:-100000}
mbox_n=${MBOX_N:-50000}
bin=bin/crmbridge
pst=$(go list -m -f '{{.Dir}}' github.com/mooijtech/go-pst/v6)/data/enron.pst
for tool in readpst gzip /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (apt-get install pst-utils gzip time)" >&2; exit 1; }
done
CGO_ENABLED=0 go build -o "$bin" ./cmd/crmbridge  # static, as make build
go build -o bin/floor ./bench/floor  # SQLite's own cost for a store, see bench/floor

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows="$work/rows"
: >"$rows"

# measure NAME CMD...: run CMD once, append "wall_seconds max_rss_kb
# user_seconds sys_seconds" to $work/NAME. The command's output goes to
# $work/NAME.log.
measure() {
	local name=$1; shift
	/usr/bin/time -f '%e %M %U %S' -o "$work/t" "$@" >"$work/$name.log" 2>&1 || {
		echo "bench: $name failed:" >&2; tail -5 "$work/$name.log" >&2; exit 1; }
	cat "$work/t" >>"$work/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
wall() { awk '{print $1}' "$work/$1" | median; }
rss() { awk '{print $2/1024}' "$work/$1" | median; }
cpu() { awk '{print $3+$4}' "$work/$1" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}'; }
# row LABEL A ANCHOR-LABEL B TARGET: one line of the table, A and B named
# measurements (B may be empty for a figure without an anchor).
row() {
	local a ac bl="-" bw="-" bc="-" br="-" wr="-" cr="-"
	a=$(wall "$2"); ac=$(cpu "$2")
	if [ -n "$4" ]; then
		bl=$3; bw=$(wall "$4"); bc=$(cpu "$4"); br=$(rss "$4")
		wr=$(ratio "$a" "$bw"); cr=$(ratio "$ac" "$bc")
		bw=$(printf '%.2f' "$bw"); bc=$(printf '%.2f' "$bc"); br=$(printf '%.1f' "$br")
	fi
	printf '%-40s %7.2f %7.2f %7.1f | %-26s %7s %7s %7s | %6s %6s | %s\n' \
		"$1" "$a" "$ac" "$(rss "$2")" "$bl" "$bw" "$bc" "$br" "$wr" "$cr" "$5" >>"$rows"
}
fresh() { rm -rf "$work/$1"; mkdir -m 700 "$work/$1"; }
# importgz NAME FILE: import FILE into a fresh store ($work/NAME/crm.db) and
# gzip -6 FILE, $big_runs times, as measurements NAME_import and NAME_gzip.
importgz() {
	for _ in $(seq "$big_runs"); do
		fresh "$1"
		measure "$1_import" "$bin" --quiet --db "$work/$1/crm.db" import "$2"
		measure "$1_gzip" sh -c 'gzip -6 -c "$1" >/dev/null' sh "$2"
	done
}
# reads STORE RECORDS PREFIX TARGET: status, list --limit 50 and show of one
# contact on the store in $work/STORE, one process each, three times.
reads() {
	local db="$work/$1/crm.db" id
	id=$("$bin" --db "$db" list contacts --limit 1 --json | grep -o '"id": *"[0-9a-f-]*"' | head -1 | grep -o '[0-9a-f-]\{36\}')
	for _ in 1 2 3; do
		measure "$3_status" "$bin" --db "$db" status
		measure "$3_list" "$bin" --db "$db" list contacts --limit 50
		measure "$3_show" "$bin" --db "$db" show "$id"
	done
	row "status ($2-record store)" "$3_status" "" "" "$4"
	row "list contacts --limit 50 ($2 records)" "$3_list" "" "" "$4"
	row "show ID ($2 records)" "$3_show" "" "" "$4"
}

echo "bench: enron.pst import against readpst -S ($runs runs each)"
for _ in $(seq "$runs"); do
	fresh store; rm -rf "$work/rp"; mkdir "$work/rp"
	measure pst_import "$bin" --quiet --db "$work/store/crm.db" import "$pst"
	measure readpst_S readpst -S -q -o "$work/rp" "$pst"
	measure pst_reimport "$bin" --quiet --db "$work/store/crm.db" import "$pst"
done
row "import enron.pst (fresh store)" pst_import "readpst -S (fresh folder)" readpst_S "<= 0.5, RSS <= 32 MiB"
row "re-import enron.pst (unchanged)" pst_reimport "import enron.pst" pst_import "<= 0.05"

echo "bench: enron.pst export --all --eml against readpst -e ($runs runs each)"
for _ in $(seq "$runs"); do
	rm -rf "$work/eml" "$work/rpe"; mkdir "$work/eml" "$work/rpe"
	measure eml_export "$bin" --quiet --db "$work/store/crm.db" export --all --eml "$work/eml"
	measure readpst_e readpst -e -q -o "$work/rpe" "$pst"
done
row "export --all --eml (enron's mails)" eml_export "readpst -e" readpst_e "<= 1"

echo "bench: $n generated contacts in one VCF ($big_runs run(s) each)"
go run ./fixtures/cmd/gen -kind vcf -n "$n" -seed 1 -o "$work/big.vcf"
for _ in $(seq "$big_runs"); do
	fresh vstore; rm -f "$work/out.vcf"
	measure vcf_import "$bin" --quiet --db "$work/vstore/crm.db" import "$work/big.vcf"
	measure vcf_gzip sh -c 'gzip -6 -c "$1" >/dev/null' sh "$work/big.vcf"
	measure vcf_export "$bin" --quiet --db "$work/vstore/crm.db" export --all --vcf "$work/out.vcf"
	measure vcf_out_gzip sh -c 'gzip -6 -c "$1" >/dev/null' sh "$work/out.vcf"
done
cards=$(grep -c '^BEGIN:VCARD' "$work/out.vcf")
[ "$cards" = "$n" ] || { echo "bench: export wrote $cards cards, want $n" >&2; exit 1; }
row "import $n contacts (one VCF)" vcf_import "gzip -6 of the VCF" vcf_gzip "<= 2, RSS <= 64 MiB"
row "export --all --vcf $n contacts" vcf_export "gzip -6 of the output" vcf_out_gzip "<= 1"
# The floors: SQLite alone (no parsing, merging or bookkeeping) writing the
# rows that import wrote, and reading the rows the export reads. A goal
# below its floor cannot be met by an SQLite store through modernc.
bin/floor -write "$work/vstore/crm.db" -o "$work/vcf_wfloor" 2>"$work/vcf_wfloor.log"
bin/floor -read "$work/vstore/crm.db" -o "$work/vcf_rfloor" 2>"$work/vcf_rfloor.log"
row "  floor: SQLite writes those rows" vcf_wfloor "gzip -6 of the VCF" vcf_gzip "(no logic)"
row "  floor: SQLite reads contact, record" vcf_rfloor "gzip -6 of the output" vcf_out_gzip "(no logic)"
reads vstore "$n" st "<= 0.1 at 1,000,000 records"

# The same cards with random UIDs, as real address books have them: the
# generator's UIDs ascend, which keeps the provenance key index appended to
# at its end only.
echo "bench: $n generated contacts with random UIDs ($big_runs run(s) each)"
go run ./fixtures/cmd/gen -kind vcf -n "$n" -seed 1 -uids random -o "$work/rand.vcf"
importgz rand "$work/rand.vcf"
row "import $n contacts, random UIDs" rand_import "gzip -6 of the VCF" rand_gzip "(as above)"

echo "bench: $mbox_n generated messages in one mbox ($big_runs run(s) each)"
go run ./fixtures/cmd/gen -kind mbox -n "$mbox_n" -seed 1 -o "$work/big.mbox"
importgz mbox "$work/big.mbox"
row "import $mbox_n messages (one mbox)" mbox_import "gzip -6 of the mbox" mbox_gzip "<= 2"
bin/floor -write "$work/mbox/crm.db" -o "$work/mbox_wfloor" 2>"$work/mbox_wfloor.log"
row "  floor: SQLite writes those rows" mbox_wfloor "gzip -6 of the mbox" mbox_gzip "(no logic)"

if [ -n "${BENCH_FULL:-}" ]; then
	m=$((n * 10))
	echo "bench: BENCH_FULL: $m contacts (1 run)"
	go run ./fixtures/cmd/gen -kind vcf -n "$m" -seed 2 -o "$work/huge.vcf"
	fresh hstore
	measure huge_import "$bin" --quiet --db "$work/hstore/crm.db" import "$work/huge.vcf"
	row "import $m contacts (one VCF)" huge_import "import $n contacts" vcf_import "<= 11"
	reads hstore "$m" h "<= 0.1"
fi

echo
printf 'crmbridge %s; %s CPUs; enron.pst %s bytes; medians of %s (small) / %s (large) runs, pairs alternated\n' \
	"$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$(nproc)" "$(stat -c %s "$pst")" "$runs" "$big_runs"
printf '%-40s %7s %7s %7s | %-26s %7s %7s %7s | %6s %6s | %s\n' "crmbridge" "wall s" "CPU s" "RSS MiB" \
	"anchor" "wall s" "CPU s" "RSS MiB" "wall×" "CPU×" "target"
cat "$rows"

echo
echo "bench: push of 10,000 outbox entries to the fake server (Go benchmark)"
go test -run '^$' -bench 'PushStore/fake/batch=(100|1000)$' -benchtime 1x ./cmd/crmbridge | grep -E 'Benchmark|entries' || true
echo
end=$(date +%s)
echo "bench: bench/bench.sh took $((end - start)) s (target for make bench: <= 300 s; N=$n MBOX_N=$mbox_n RUNS=$runs BIG_RUNS=$big_runs)"
