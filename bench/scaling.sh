#!/usr/bin/env bash
# Query time against data size, with 1 and with 2 worker threads, through
# `datalite query DB --bench N --threads T`, and a plot of the curves.
#
#   bench/scaling.sh [--runs N] [--rounds K] [--work DIR] [--out FILE] [--png FILE] [--quick]
#                    path/to/datalite
#
# Three series of three sizes each, generated with `datalite gen` (seed 42)
# and loaded with `datalite import`:
#
#   ohlc-symbols  gen ohlc --days 20 --symbols 10|30|100 (one-minute bars):
#                 more symbols, NVDA's bars the same
#   ohlc-days     gen ohlc --interval 5 --symbols 10 --days 20|40|80
#                 (five-minute bars): every symbol's history grows
#   social        gen social --people 20000|60000|200000
#
# ohlc1 ohlc2 ohlc3 ohlc4 run on the ohlc series, q1 q4 qpred1 qpred2 on
# social; the query texts are bench_query's (`bench_query --text NAME`,
# bench_query next to datalite or $BENCH_QUERY).  Each query runs in K
# rounds [2] of one process per thread count (1 then 2, then 2 then 1...),
# each process running it once to warm up and N times [5] on one snapshot.
# Results go to FILE [bench/results/scaling.txt], one line per series, size,
# query and thread count:
#
#   series size datoms query threads median_ms min_ms max_ms rows runs
#
# where median_ms is the lower of the rounds' medians (on a shared machine
# the load of others only ever adds time), min and max over all K x N runs,
# and `import` lines (query `import`, threads 0, median = seconds to
# import, min = datoms/s), and the plot to PNG [bench/results/scaling.png]
# when gnuplot is found (bench/results/plot_scaling.sh FILE PNG redraws it).
# Data and databases go under DIR [$TMPDIR/datalite-scaling] and are
# removed at the end.  --quick: the two smaller sizes of each series only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
runs=5 rounds=2 work="" out=$here/results/scaling.txt png=$here/results/scaling.png quick=0
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--png) png=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	-*) echo "scaling: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--runs N] [--rounds K] [--work DIR] [--out FILE] [--png FILE] [--quick] DATALITE" >&2; exit 2; }
dl=$1
bench_query=${BENCH_QUERY:-$(dirname "$dl")/bench_query}
[ -x "$bench_query" ] || { echo "scaling: no bench_query at $bench_query (build it, or set BENCH_QUERY)" >&2; exit 1; }
work=${work:-${TMPDIR:-/tmp}/datalite-scaling}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

{
	echo "# bench/scaling.sh --runs $runs --rounds $rounds$([ "$quick" = 1 ] && echo ' --quick') ($(date -u +%Y-%m-%dT%H:%MZ), datalite $("$dl" --version | cut -d' ' -f2))"
	echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# series size datoms query threads median_ms min_ms max_ms rows runs"
} >"$out"

# series NAME QUERIES SIZES GEN-ARGS-WITH-@: one series; @ in the gen
# arguments is replaced by each size.
series() {
	local name=$1 qs=$2 sizes=$3
	shift 3
	local size q th
	for size in $sizes; do
		local gen=() a
		for a in "$@"; do gen+=("${a//@/$size}"); done
		local edn=$work/$name-$size.edn db=$work/$name-$size.db
		echo "# $name $size: datalite gen ${gen[*]}" >&2
		"$dl" gen "${gen[@]}" --out "$edn"
		rm -f "$db" "$db-lock"
		local sum datoms
		sum=$("$dl" import --quiet "$db" "$edn" | tail -1)
		rm -f "$edn"
		# imported N datoms in T s (R datoms/s)
		datoms=$(echo "$sum" | awk '{ print $2 }')
		echo "$sum" | awk -v s="$name" -v z="$size" \
			'{ gsub("[()]", ""); print s, z, $2, "import", 0, $5, $7, "-", "-", 1 }' | tee -a "$out"
		for q in $qs; do
			local text=() r
			mapfile -t text < <("$bench_query" --text "$q")
			: >"$work/runs"
			for r in $(seq "$rounds"); do
				# alternate the order so drift in the machine's load hits both
				local order="1 2"
				[ $((r % 2)) = 0 ] && order="2 1"
				for th in $order; do
					"$dl" query "$db" --bench "$runs" --threads "$th" --format edn "${text[@]}" \
						2>"$work/err" >/dev/null || { cat "$work/err" >&2; exit 1; }
					# bench: N runs, median X ms, min Y ms, max Z ms, rows R
					awk -v t="$th" '/^bench: / { gsub(",", ""); print t, $5, $8, $11, $14, $2 }' \
						"$work/err" >>"$work/runs"
				done
			done
			# per thread count: the lower median of the rounds, the min and
			# max of all runs
			awk -v s="$name" -v z="$size" -v d="$datoms" -v q="$q" '
				!($1 in med) || $2 < med[$1] { med[$1] = $2 }
				!($1 in mn) || $3 < mn[$1] { mn[$1] = $3 }
				!($1 in mx) || $4 > mx[$1] { mx[$1] = $4 }
				{ rows[$1] = $5; n[$1] += $6 }
				END { for (t = 1; t <= 2; t++)
					print s, z, d, q, t, med[t], mn[t], mx[t], rows[t], n[t] }' \
				"$work/runs" | tee -a "$out"
		done
		rm -f "$db" "$db-lock"
	done
}

sizes() { if [ "$quick" = 1 ]; then echo "$1 $2"; else echo "$1 $2 $3"; fi; }
t0=$(date +%s)
series ohlc-symbols "ohlc1 ohlc2 ohlc3 ohlc4" "$(sizes 10 30 100)" ohlc --days 20 --symbols @
series ohlc-days "ohlc1 ohlc2 ohlc3 ohlc4" "$(sizes 20 40 80)" ohlc --interval 5 --symbols 10 --days @
series social "q1 q4 qpred1 qpred2" "$(sizes 20000 60000 200000)" social --people @
echo "# done in $(($(date +%s) - t0)) s" | tee -a "$out" >&2

if command -v gnuplot >/dev/null; then
	"$here/results/plot_scaling.sh" "$out" "$png"
else
	echo "# no gnuplot: no plot (scripts/install-deps.sh --bench)" >&2
fi
