#!/usr/bin/env bash
# Kill -9 the crash_writer at random moments (KILLS times, default 30) and
# verify the database after each kill: check passes, transactions 1..k are
# complete and nothing of a later one is visible.
# With the datalite tool as a third argument, also kill `datalite import`
# at random moments (IMPORT_KILLS times, default 12): the database must open,
# pass check and hold either nothing of the import or all of it; so must it
# for a reader in another process just before the kill.
set -u
bin=$1
dir=${2:-/tmp}
dl=${3:-}
kills=${KILLS:-30}
mkdir -p "$dir"
db="$dir/crash_$$.db"
rm -f "$db" "$db-lock"
for i in $(seq 1 "$kills"); do
	"$bin" write "$db" 2>/dev/null &
	pid=$!
	# 30..329 ms
	sleep "0.$(printf '%03d' $((RANDOM % 300 + 30)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if ! out=$("$bin" verify "$db" 2>&1); then
		echo "FAIL after kill $i:"
		echo "$out"
		exit 1
	fi
	echo "kill $i: $out"
done
rm -f "$db" "$db-lock"
echo "ok: $kills kills"
[ -n "$dl" ] || exit 0

# --- datalite import ---------------------------------------------------------
p="$dir/crash_imp_$$"
trap 'rm -f "$p".*' EXIT
count() { "$dl" stats "$1" | awk '/^datoms/ { print $2 }'; }
"$dl" gen ohlc --symbols 8 --days 10 --out "$p.all.edn" || exit 1
awk 'NR > 2 && /^\[/ { n++ } n < 2 && NR > 2' "$p.all.edn" >"$p.base.edn"
awk 'NR > 2 && /^\[/ { n++ } n >= 2' "$p.all.edn" >"$p.rest.edn"
"$dl" import --quiet "$p.base.db" "$p.base.edn" >/dev/null || exit 1
cp "$p.base.db" "$p.full.db"
t0=$(date +%s%N)
"$dl" import --quiet --batch 2000 "$p.full.db" "$p.rest.edn" >/dev/null || exit 1
took=$((($(date +%s%N) - t0) / 1000000 + 1))
base=$(count "$p.base.db")
full=$(count "$p.full.db")
ikills=${IMPORT_KILLS:-12}
seen_none=0
seen_all=0
for i in $(seq 1 "$ikills"); do
	cp "$p.base.db" "$p.db"
	rm -f "$p.db-lock"
	# small batches: many spool runs, merges and LMDB spills along the way
	"$dl" import --quiet --batch 2000 "$p.db" "$p.rest.edn" >/dev/null 2>&1 &
	pid=$!
	# up to twice as long as the import took: before, during and after
	# the commit
	ms=$((RANDOM % (2 * took) + 5))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	# a reader in another process meanwhile sees the state before the
	# import or after it, never a part
	if ! out=$("$dl" check "$p.db" 2>&1); then
		echo "FAIL: check while importing ($i): $out"
		exit 1
	fi
	n=$(count "$p.db")
	if [ "$n" != "$base" ] && [ "$n" != "$full" ]; then
		echo "FAIL: a reader saw $n datoms while importing ($i)"
		exit 1
	fi
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if ! out=$("$dl" check "$p.db" 2>&1); then
		echo "FAIL after import kill $i: $out"
		exit 1
	fi
	n=$(count "$p.db")
	if [ "$n" = "$base" ]; then
		seen_none=$((seen_none + 1))
	elif [ "$n" = "$full" ]; then
		seen_all=$((seen_all + 1))
	else
		echo "FAIL after import kill $i: $n datoms, neither $base (none) nor $full (all)"
		exit 1
	fi
	echo "import kill $i: $n datoms"
done
echo "ok: $ikills import kills ($seen_none before the commit, $seen_all after)"
