#!/usr/bin/env bash
# Plot run_peers.sh results as each peer's median over datalite's, per query
# (log scale: above 1, datalite is faster), with gnuplot (gnuplot-nox):
#
#   bench/results/plot.sh OUT.png [TAG=]RESULTS.txt ...
#
# TAG= prefixes that file's query names (`5m=ohlc5m/results.txt` plots
# 5m:ohlc1 ...), to tell apart data sets that share query names.  Queries a
# peer did not answer (n/a, TIMEOUT, OOM, LIMIT) get no bar.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT.png [TAG=]RESULTS.txt ..." >&2; exit 2; }
out=$1
shift
command -v gnuplot >/dev/null || { echo "plot: gnuplot not found (scripts/install-deps.sh --bench)" >&2; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
for f in "$@"; do
	case "$f" in
	*=*) awk -v t="${f%%=*}:" '{ $2 = t $2; print }' "${f#*=}" ;;
	*) cat "$f" ;;
	esac
done | awk '
	# result lines only ("SYSTEM QUERY MEDIAN ..."), not the printed table
	$1 !~ /^(datalite|sqlite-normalized|sqlite-eav|datascript)$/ || NF < 7 { next }
	{ med[$2, $1] = $3; if (!($2 in seen)) { seen[$2] = 1; qs[++n] = $2 } }
	function r(q, s) {
		if (med[q, s] !~ /^[0-9.]+$/ || med[q, "datalite"] !~ /^[0-9.]+$/) return "NaN"
		return med[q, s] / med[q, "datalite"]
	}
	END { for (i = 1; i <= n; i++) { q = qs[i]
		print q, r(q, "sqlite-normalized"), r(q, "sqlite-eav"), r(q, "datascript") } }' >"$data"
gnuplot <<GP
set terminal pngcairo size 1400,560 font "sans,10"
set output "$out"
set title "peer median / datalite median per query (log scale; > 1: datalite faster)"
set logscale y
set yrange [0.01:100000]
set bmargin 7
set rmargin 8
set ytics ("0.01" 0.01, "0.1" 0.1, "1" 1, "10" 10, "100" 100, "1000" 1000, "1e4" 10000, "1e5" 100000)
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -45 scale 0
set key top left
set datafile missing "NaN"
plot "$data" using 2:xtic(1) title "SQLite normalized", "" using 3 title "SQLite EAV", "" using 4 title "DataScript", 1 notitle lt -1 lw 1
GP
echo "plot: wrote $out" >&2
