#!/usr/bin/env bash
# Run the peers (DataScript, SQLite normalized, SQLite EAV) on one data set.
#
#   bench/peers/run_peers.sh [--runs N] [--work DIR] [--no-datascript] \
#       path/to/datalite ohlc|social [GEN OPTIONS ...] [-- QUERY ...]
#
# Generates the data with `datalite gen` (EDN for DataScript, CSV for SQLite),
# loads SQLite in both layouts, runs every query (or the ones after --) once
# to warm up and N times, and prints one line per system and query:
#
#   system query median_ms min_ms max_ms rows peak_rss_mb
#
# then checks that every system returned the same row count per query (exit
# 1 if not).  sqlite_bench is looked for next to the datalite binary (the
# build directory) unless $SQLITE_BENCH names it; DataScript is installed
# with `npm ci` on first use.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
runs=10 work="" datascript=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--no-datascript) datascript=0; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
if [ $# -lt 2 ]; then
	echo "usage: $0 [--runs N] [--work DIR] [--no-datascript] DATALITE ohlc|social [GEN OPTIONS] [-- QUERY ...]" >&2
	exit 2
fi
dl=$1 kind=$2
shift 2
gen=() queries=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do gen+=("$1"); shift; done
[ $# -gt 0 ] && shift && queries=("$@")
work=${work:-${TMPDIR:-/tmp}/datalite-peers-$kind}
sqlite_bench=${SQLITE_BENCH:-$(dirname "$dl")/sqlite_bench}

mkdir -p "$work"
echo "# generating $kind ${gen[*]:-} into $work" >&2
"$dl" gen "$kind" "${gen[@]}" --out "$work/data.edn"
"$dl" gen "$kind" "${gen[@]}" --format csv --out "$work/csv"
"$here/sqlite_load.sh" "$kind" normalized "$work/csv" "$work/normalized.db"
"$here/sqlite_load.sh" "$kind" eav "$work/csv" "$work/eav.db"

results=$work/results.txt
: >"$results"
run() { # run SYSTEM COMMAND...
	local sys=$1
	shift
	"$@" | while read -r line; do echo "$sys $line"; done | tee -a "$results"
}
if [ -x "$sqlite_bench" ]; then
	run sqlite-normalized "$sqlite_bench" --runs "$runs" "$work/normalized.db" "${queries[@]}"
	run sqlite-eav "$sqlite_bench" --runs "$runs" "$work/eav.db" "${queries[@]}"
else
	echo "# no sqlite_bench at $sqlite_bench (build it, or set SQLITE_BENCH): SQLite skipped" >&2
fi
if [ "$datascript" = 1 ]; then
	if [ ! -d "$here/node_modules/datascript" ]; then
		(cd "$here" && npm ci --no-audit --no-fund >&2)
	fi
	# --large needs more than node's default heap.
	run datascript node --max-old-space-size=16384 "$here/datascript_bench.js" \
		--runs "$runs" "$work/data.edn" "${queries[@]}"
fi

# Every system must agree on the row count of every query.
awk '{ rows[$2] = rows[$2] " " $6; if (!($2 in first)) first[$2] = $6; else if (first[$2] != $6) bad[$2] = 1 }
	END { for (q in bad) { print "# ROW COUNTS DIFFER for " q ":" rows[q] > "/dev/stderr"; n++ }
		exit n > 0 }' "$results"
