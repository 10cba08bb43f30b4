#!/usr/bin/env bash
# Print the side-by-side table of run_peers.sh results files:
#
#   bench/peers/ratio_table.sh [--md] RESULTS.txt ...
#
# Each line of a results file is `system query median_ms min_ms max_ms rows
# peak_rss_mb runs`.  One row per query: each system's median, and for the
# peers their median as a multiple of datalite's (> 1: datalite is faster);
# then the rows and the largest peak RSS per system.  --md writes Markdown.
# Exits 1 (after saying which) when the systems that answered a query
# disagree on its row count.
set -euo pipefail
md=0
[ "${1:-}" = --md ] && md=1 && shift
[ $# -gt 0 ] || { echo "usage: $0 [--md] RESULTS.txt ..." >&2; exit 2; }

cat "$@" | awk -v md="$md" '
function ratio(r) { return r >= 9.95 ? sprintf("%.0f", r) : r >= 0.095 ? sprintf("%.1f", r) : sprintf("%.2g", r) }
function num(v) { return v ~ /^[0-9.]+$/ }
function cell(s, w) { return md ? " " s " |" : sprintf(" %" w "s", s) }
{
	med[$2, $1] = $3; rows[$2, $1] = $6; rss[$2, $1] = $7
	if (!($2 in seenq)) { seenq[$2] = 1; qs[++nq] = $2 }
	if (!($1 in seens)) { seens[$1] = 1; ss[++ns] = $1 }
}
END {
	line = md ? "| query |" : sprintf("%-16s", "query")
	for (j = 1; j <= ns; j++) line = line cell(ss[j] " ms", 22)
	names = ss[1]; for (j = 2; j <= ns; j++) names = names " / " ss[j]
	line = line cell("rows", 7) cell("peak RSS MB (" names ")", 0)
	print line
	if (md) { line = "|---|"; for (j = 1; j <= ns + 2; j++) line = line "---:|"; print line }
	for (i = 1; i <= nq; i++) {
		q = qs[i]; base = med[q, "datalite"]
		line = md ? "| " q " |" : sprintf("%-16s", q)
		r = ""; m = ""
		for (j = 1; j <= ns; j++) {
			v = med[q, ss[j]]
			if (v == "") s = "n/a"
			else if (!num(v)) s = v
			else if (ss[j] != "datalite" && num(base) && base > 0)
				s = sprintf("%.3f (%sx)", v, ratio(v / base))
			else s = sprintf("%.3f", v)
			line = line cell(s, 22)
			if (num(v) && r == "") r = rows[q, ss[j]]
			if (num(v)) { m = m (m == "" ? "" : " / ") rss[q, ss[j]] }
			else if (v != "") m = m (m == "" ? "" : " / ") "-"
		}
		print line cell(r == "" ? "-" : r, 7) cell(m, 0)
	}
}'

# Every system that answered must agree on the row count of every query.
cat "$@" | awk '$3 ~ /^[0-9.]+$/ { rows[$2] = rows[$2] " " $1 "=" $6
		if (!($2 in first)) first[$2] = $6; else if (first[$2] != $6) bad[$2] = 1 }
	END { for (q in bad) { print "# ROW COUNTS DIFFER for " q ":" rows[q] > "/dev/stderr"; n++ }
		exit n > 0 }'
