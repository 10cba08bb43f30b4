#!/usr/bin/env bash
# Plot bench/scaling.sh results: median query time against datoms, one panel
# per series, a colour per query, solid for 1 thread and dashed for 2
# (log-log), with gnuplot (gnuplot-nox):
#
#   bench/results/plot_scaling.sh RESULTS.txt OUT.png
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 RESULTS.txt OUT.png" >&2; exit 2; }
in=$1 out=$2
command -v gnuplot >/dev/null || { echo "plot: gnuplot not found (scripts/install-deps.sh --bench)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# one file per series, query and thread count: "datoms median_ms", by size
awk -v d="$dir" '!/^#/ && $4 != "import" && $6 ~ /^[0-9.]+$/ {
	f = d "/" $1 "," $4 "," $5; print $3, $6 >> f; close(f) }' "$in"
series=$(awk '!/^#/ && !seen[$1]++ { print $1 }' "$in")
n=$(echo "$series" | wc -w)
{
	echo "set terminal pngcairo size $((520 * n)),520 font 'sans,10'"
	echo "set output '$out'"
	echo "set multiplot layout 1,$n title 'datalite: median query time against data size (log-log; solid 1 thread, dashed 2 threads)'"
	echo "set logscale xy"
	echo "set format x '%.1s%c'"
	echo "set xlabel 'datoms'"
	echo "set ylabel 'median ms'"
	echo "set grid"
	echo "set key top left"
	for s in $series; do
		echo "set title '$s'"
		plot="plot"
		c=0
		for q in $(awk -v s="$s" '!/^#/ && $1 == s && $4 != "import" && !seen[$4]++ { print $4 }' "$in"); do
			c=$((c + 1))
			for t in 1 2; do
				f="$dir/$s,$q,$t"
				[ -s "$f" ] || continue
				if [ "$t" = 1 ]; then title="title '$q'" dt=1; else title="notitle" dt=2; fi
				plot="$plot '$f' using 1:2 with linespoints lc $c dt $dt pt 7 ps 0.6 $title,"
			done
		done
		echo "${plot%,}"
	done
	echo "unset multiplot"
} | gnuplot
echo "plot: wrote $out" >&2
