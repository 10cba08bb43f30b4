#!/usr/bin/env bash
# Kill -9 the crash_writer at random moments (KILLS times, default 30) and
# verify the database after each kill: check passes, transactions 1..k are
# complete and nothing of a later one is visible.
set -u
bin=$1
dir=${2:-/tmp}
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
