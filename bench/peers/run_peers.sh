#!/usr/bin/env bash
# Run datalite and its peers (DataScript, SQLite normalized, SQLite EAV) on
# one data set, side by side.
#
#   bench/peers/run_peers.sh [OPTIONS] path/to/datalite KIND [GEN OPTIONS ...] [-- QUERY ...]
#
# KIND is a `datalite gen` kind (ohlc, social, follows, graph, genealogy), or
# `rules`: DataScript's seven rules benchmarks (follows data, shapes
# wide 3x3 5x3 7x3 4x6 and long 10x3 30x3 30x5), one data set after another,
# each reported as its own query (rules-wide-3x3 ...); `pull`: DataScript's
# pull benchmarks on its wide-db 4 5 (follows --people-attrs); `writes`: its
# write benchmarks (add-1 add-5 add-all retract-5 init) on social's people,
# datalite through bench_write with sync off, SQLite through sqlite_write
# (WAL, synchronous OFF).
#
# Generates the data with `datalite gen` (EDN for datalite and DataScript,
# CSV for SQLite), loads datalite (through its transaction path, with the
# load rate on stderr) and SQLite in both layouts, runs every query of the
# kind (or the ones after --) to warm up and N times, and prints one line
# per system and query:
#
#   system query median_ms min_ms max_ms rows peak_rss_mb runs
#
# (median_ms is TIMEOUT, LIMIT, OOM or FAILED when there is no answer), then
# a table of medians with each peer's time as a multiple of datalite's
# (ratio > 1: datalite is faster), and checks that every system returned the
# same row count per query (exit 1 if not).  datalite and SQLite run each
# query in a process of its own, so peak RSS is that query's; DataScript
# loads once and runs them all in one process (its RSS includes the
# database), unless --timeout is given.
#
# Options:
#   --runs N         timed runs per query [10]
#   --budget-ms MS   fewer runs (at least 3) when N would take longer [120000]
#   --timeout S      a deadline of S seconds per run (the engine's own for
#                    datalite, a progress handler for SQLite, a watchdog for
#                    DataScript, which then runs one query per process)
#   --work DIR       where data and databases go [$TMPDIR/datalite-peers-KIND]
#   --no-datascript, --no-sqlite   leave a peer out
#   --ds-heap MB     node's --max-old-space-size for DataScript [16384]
#   --writemap       writes: datalite opens its databases with
#                    dl_db_opts.writemap = 1 (bench_write --writemap)
#   --dump           every system prints its answers to DIR/SET/SYSTEM.dump
#   --cli            time datalite with `datalite query DB --bench N` (one
#                    warm-up run, N runs on one snapshot, no --budget-ms;
#                    peak RSS from /usr/bin/time) instead of bench_query;
#                    ohlc5, two queries, still runs in bench_query; with
#                    --dump its answers are the CLI's EDN (a set), not
#                    bench_query's sorted row per line
#
# bench_query and bench_write (datalite), sqlite_bench and sqlite_write are
# looked for next to the datalite binary (the build directory) unless
# $BENCH_QUERY, $BENCH_WRITE, $SQLITE_BENCH, $SQLITE_WRITE name them;
# DataScript is installed with `npm ci` on first use.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
runs=10 budget=120000 timeout=0 work="" datascript=1 sqlite=1 ds_heap=16384 dump=0 cli=0 writemap=()
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--budget-ms) budget=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--no-datascript) datascript=0; shift ;;
	--no-sqlite) sqlite=0; shift ;;
	--ds-heap) ds_heap=$2; shift 2 ;;
	--dump) dump=1; shift ;;
	--cli) cli=1; shift ;;
	--writemap) writemap=(--writemap); shift ;;
	-h | --help) sed -n '2,54p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run_peers: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 2 ]; then
	echo "usage: $0 [OPTIONS] DATALITE ohlc|social|follows|graph|genealogy|rules [GEN OPTIONS] [-- QUERY ...]" >&2
	exit 2
fi
dl=$1 kind=$2
shift 2
gen=() queries=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do gen+=("$1"); shift; done
[ $# -gt 0 ] && shift && queries=("$@")
work=${work:-${TMPDIR:-/tmp}/datalite-peers-$kind}
sqlite_bench=${SQLITE_BENCH:-$(dirname "$dl")/sqlite_bench}
bench_query=${BENCH_QUERY:-$(dirname "$dl")/bench_query}
[ -x "$bench_query" ] || { echo "run_peers: no bench_query at $bench_query (build it, or set BENCH_QUERY)" >&2; exit 1; }
if [ "$sqlite" = 1 ] && [ ! -x "$sqlite_bench" ]; then
	echo "# no sqlite_bench at $sqlite_bench (build it, or set SQLITE_BENCH): SQLite skipped" >&2
	sqlite=0
fi
if [ "$datascript" = 1 ] && [ ! -d "$here/node_modules/datascript" ]; then
	(cd "$here" && npm ci --no-audit --no-fund >&2)
fi

mkdir -p "$work"
results=$work/results.txt
: >"$results"
timeout_ms=$((timeout * 1000))
opts=(--runs "$runs" --budget-ms "$budget")
[ "$timeout" -gt 0 ] && opts+=(--timeout "$timeout_ms")

# record SYSTEM LABEL LOG COMMAND...: run a bench program, prefix its lines
# with the system's name (and rename `rules` to the set's LABEL), append
# them to the results; stderr goes to LOG and, when asked, the dumps.
record() {
	local sys=$1 label=$2 log=$3
	shift 3
	local rc=0
	"$@" 2>>"$log" >"$log.out" || rc=$?
	sed -e "s/^rules /$label /" -e "s/^/$sys /" "$log.out" | tee -a "$results"
	return $rc
}

# cli_bench DB NAME QUERY [ARG...]: datalite's figures for one query from
# `datalite query --bench`, in bench_query's line format (answers to stderr
# with --dump).
cli_bench() {
	local db=$1 name=$2 err rc=0
	shift 2
	err=$(mktemp)
	local t=() o=(--bench "$runs" --format edn)
	[ -x /usr/bin/time ] && t=(/usr/bin/time -f "rss_kb %M")
	[ "$timeout" -gt 0 ] && o+=(--timeout "$timeout_ms")
	if [ "$dump" = 1 ]; then
		echo "--- $name" >&2
		"${t[@]}" "$dl" query "$db" "${o[@]}" "$@" 2>"$err" >&2 || rc=$?
	else
		"${t[@]}" "$dl" query "$db" "${o[@]}" "$@" 2>"$err" >/dev/null || rc=$?
	fi
	cat "$err" >&2
	awk -v q="$name" '
		/^bench: / { gsub(",", ""); n = $2; med = $5; mn = $8; mx = $11; rows = $14 }
		/^rss_kb / { rss = sprintf("%.1f", $2 / 1024) }
		/timed out/ { to = 1 }
		END { if (med != "") print q, med, mn, mx, rows, (rss == "" ? "-" : rss), n
		      else if (to) print q, "TIMEOUT - - - - 0" }' "$err"
	rm -f "$err"
	return $rc
}

# missing SYSTEM LOG RC Q...: a line for each query SYSTEM did not answer.
missing() {
	local sys=$1 log=$2 rc=$3 q why
	shift 3
	for q in "$@"; do
		grep -q "^$sys $q " "$results" && continue
		if grep -q "heap out of memory\|Allocation failed" "$log"; then why=OOM
		elif grep -q "TIMEOUT" "$log" || [ "$rc" = 124 ]; then why=TIMEOUT
		else why=FAILED; fi
		echo "$sys $q $why - - - - 0" | tee -a "$results"
		echo "# $sys $q: $why (exit $rc; see $log)" >&2
	done
}

# run_set DIR LABEL GEN...: one data set, every system; the query `rules`
# is reported as LABEL.
run_set() {
	local dir=$1 label=$2
	shift 2
	mkdir -p "$dir"
	echo "# datalite gen $*  (in $dir)" >&2
	"$dl" gen "$@" --out "$dir/data.edn"
	if [ "$sqlite" = 1 ]; then
		"$dl" gen "$@" --format csv --out "$dir/csv"
		"$here/sqlite_load.sh" "${sqlite_kind:-$1}" normalized "$dir/csv" "$dir/normalized.db"
		"$here/sqlite_load.sh" "${sqlite_kind:-$1}" eav "$dir/csv" "$dir/eav.db"
	fi
	"$bench_query" --load "$dir/data.edn" --load-only "$dir/datalite.db"
	local qs=("${queries[@]}")
	[ ${#qs[@]} -gt 0 ] || mapfile -t qs < <("$bench_query" --list "$dir/datalite.db")
	local d=() dd=()
	[ "$dump" = 1 ] && d=(--dump)

	local q rc sys log
	for q in "${qs[@]}"; do
		log=$dir/datalite.log
		[ "$dump" = 1 ] && log=$dir/datalite.dump
		local text=()
		[ "$cli" = 1 ] && mapfile -t text < <("$bench_query" --text "$q" 2>/dev/null)
		rc=0
		if [ ${#text[@]} -gt 0 ]; then
			record datalite "$label" "$log" cli_bench "$dir/datalite.db" "$q" "${text[@]}" || rc=$?
		else
			record datalite "$label" "$log" "$bench_query" "${opts[@]}" "${d[@]}" "$dir/datalite.db" "$q" || rc=$?
		fi
		missing datalite "$log" "$rc" "${q/#rules/$label}"
		if [ "$sqlite" = 1 ]; then
			for sys in normalized eav; do
				log=$dir/sqlite-$sys.log
				[ "$dump" = 1 ] && log=$dir/sqlite-$sys.dump
				rc=0; record "sqlite-$sys" "$label" "$log" "$sqlite_bench" "${opts[@]}" "${d[@]}" \
					"$dir/$sys.db" "$q" || rc=$?
				missing "sqlite-$sys" "$log" "$rc" "${q/#rules/$label}"
			done
		fi
	done
	if [ "$datascript" = 1 ]; then
		# DataScript has no ohlc3 (no nested q): n/a, not a failure.
		local dsq=() x
		for x in "${qs[@]}"; do [ "$x" = ohlc3 ] || dsq+=("$x"); done
		[ ${#dsq[@]} -gt 0 ] || return 0
		log=$dir/datascript.log
		[ "$dump" = 1 ] && log=$dir/datascript.dump
		: >"$log"
		local node=(node --max-old-space-size="$ds_heap" "$here/datascript_bench.js" "${opts[@]}" "${d[@]}"
			"$dir/data.edn")
		if [ "$timeout" -gt 0 ]; then # one process per query: a watchdog may kill it
			for q in "${dsq[@]}"; do
				rc=0; record datascript "$label" "$log" "${node[@]}" "$q" || rc=$?
				missing datascript "$log" "$rc" "${q/#rules/$label}"
			done
		else
			rc=0; record datascript "$label" "$log" "${node[@]}" "${dsq[@]}" || rc=$?
			missing datascript "$log" "$rc" "${dsq[@]/#rules/$label}"
		fi
	fi
}

if [ "$kind" = pull ]; then
	# DataScript's pull benchmarks on its wide-db 4 5.  Its CSVs are
	# social's tables (people with every attribute, aliases, follows), so
	# SQLite loads them as social; the SQL is a recursive CTE over follows.
	queries=(pull-one pull-many pull-wildcard) sqlite_kind=social
	run_set "$work" rules follows --depth 4 --width 5 --people-attrs "${gen[@]}"
elif [ "$kind" = writes ]; then
	# DataScript's write benchmarks on people20k: bench_write (datalite,
	# sync off) against datascript_bench.js and sqlite_write (both layouts,
	# WAL with synchronous OFF).
	bench_write=${BENCH_WRITE:-$(dirname "$dl")/bench_write}
	sqlite_write=${SQLITE_WRITE:-$(dirname "$dl")/sqlite_write}
	if [ "$sqlite" = 1 ] && [ ! -x "$sqlite_write" ]; then
		echo "# no sqlite_write at $sqlite_write (build it, or set SQLITE_WRITE): SQLite skipped" >&2
		sqlite=0
	fi
	mkdir -p "$work"
	"$dl" gen social --format csv --out "$work/csv" "${gen[@]}"
	ws=("${queries[@]}")
	[ ${#ws[@]} -gt 0 ] || ws=(add-1 add-5 add-all retract-5 init)
	rc=0; record datalite writes "$work/datalite.log" "$bench_write" "${opts[@]}" "${writemap[@]}" "$work/csv/people.csv" \
		"$work/datalite.db" "${ws[@]}" || rc=$?
	missing datalite "$work/datalite.log" "$rc" "${ws[@]}"
	if [ "$sqlite" = 1 ]; then
		for sys in normalized eav; do
			rc=0; record "sqlite-$sys" writes "$work/sqlite-$sys.log" "$sqlite_write" "${opts[@]}" \
				--layout "$sys" "$work/csv/people.csv" "$work/sqlite-$sys.db" "${ws[@]}" || rc=$?
			missing "sqlite-$sys" "$work/sqlite-$sys.log" "$rc" "${ws[@]}"
		done
	fi
	if [ "$datascript" = 1 ]; then
		rc=0; record datascript writes "$work/datascript.log" node --max-old-space-size="$ds_heap" \
			"$here/datascript_bench.js" "${opts[@]}" "$work/csv/people.csv" "${ws[@]}" || rc=$?
		missing datascript "$work/datascript.log" "$rc" "${ws[@]}"
	fi
elif [ "$kind" = rules ]; then
	for shape in wide-3x3 wide-5x3 wide-7x3 wide-4x6 long-10x3 long-30x3 long-30x5; do
		s=${shape%%-*} dw=${shape#*-}
		run_set "$work/$shape" "rules-$shape" follows --shape "$s" --depth "${dw%x*}" \
			--width "${dw#*x}" "${gen[@]}"
	done
else
	run_set "$work" rules "$kind" "${gen[@]}"
fi

echo
"$here/ratio_table.sh" "$results"
