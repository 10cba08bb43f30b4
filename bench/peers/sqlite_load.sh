#!/usr/bin/env bash
# Load `datalite gen KIND --format csv --out DIR` into a SQLite database.
#   bench/peers/sqlite_load.sh KIND normalized|eav CSV_DIR DB
# normalized: one table per entity kind with natural indexes (sql/KIND*.sql).
# eav: one `datoms` table clustered like EAVT with an AVET index, derived in
#      SQL from the same CSVs (sql/eav*.sql, sql/KIND_eav.sql).
# Needs the sqlite3 CLI.  Prints the load time and row count on stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 4 ]; then
	echo "usage: $0 ohlc|social|graph|genealogy|follows normalized|eav CSV_DIR DB" >&2
	exit 2
fi
kind=$1 layout=$2 dir=$3 db=$4
case "$kind" in
ohlc) tables="symbols prices" ;;
social) tables="people aliases follows" ;;
graph) tables="nodes edges" ;;
genealogy) tables="people parents" ;;
follows) tables="people follows" ;;
*) echo "sqlite_load: unknown kind '$kind'" >&2; exit 2 ;;
esac
case "$layout" in
normalized | eav) ;;
*) echo "sqlite_load: layout is normalized or eav, not '$layout'" >&2; exit 2 ;;
esac
for t in $tables; do
	[ -r "$dir/$t.csv" ] || { echo "sqlite_load: no $dir/$t.csv" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "sqlite_load: sqlite3 not found" >&2; exit 1; }

rm -f "$db" "$db-journal"
start=$(date +%s.%N)
{
	# A scratch database: no journal, no fsync.
	echo "PRAGMA journal_mode = OFF;"
	echo "PRAGMA synchronous = OFF;"
	echo "PRAGMA cache_size = -524288;"
	cat "$here/sql/$kind.sql"
	[ "$layout" = eav ] && cat "$here/sql/eav.sql"
	echo "BEGIN;"
	for t in $tables; do
		printf '.import --csv --skip 1 "%s" %s\n' "$dir/$t.csv" "$t"
	done
	if [ "$layout" = eav ]; then
		cat "$here/sql/${kind}_eav.sql" "$here/sql/eav_index.sql"
	else
		cat "$here/sql/${kind}_index.sql"
	fi
	echo "COMMIT;"
	echo "ANALYZE;"
} | sqlite3 -bail "$db" >/dev/null
end=$(date +%s.%N)
if [ "$layout" = eav ]; then
	rows=$(sqlite3 "$db" "SELECT count(*) FROM datoms")
	what="datoms"
else
	rows=$(for t in $tables; do sqlite3 "$db" "SELECT count(*) FROM $t"; done | awk '{ n += $1 } END { print n }')
	what="rows"
fi
awk -v s="$start" -v e="$end" -v n="$rows" -v w="$what" -v db="$db" \
	'BEGIN { printf "sqlite_load: %s: %d %s in %.2f s (%.3f M/s)\n", db, n, w, e - s, n / (e - s) / 1e6 }' >&2
