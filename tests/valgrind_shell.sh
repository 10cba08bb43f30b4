#!/usr/bin/env bash
# The shell-driven tests (CLI, generator, REPL, kill -9 and the differential
# run against DataScript) with every datalite and crash_writer process they
# start running under valgrind's memcheck.  `ctest -T memcheck` cannot do
# this: it would wrap bash or node, not datalite.  Each test gets a wrapper
# in place of the binary, so the test scripts themselves stay as they are;
# memcheck writes one log per process, and afterwards every complete log
# must report no errors (definite leaks count as errors).  Processes the
# kill -9 test kills leave no summary and are not judged.
#   tests/valgrind_shell.sh BUILD_DIR
# Prints one line per failure and a closing "N passed, N failed" line.
set -u

build=$(cd "${1:?usage: valgrind_shell.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
vg=$(command -v valgrind) || { echo "error: valgrind is not installed"; echo "0 passed, 1 failed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/logs" "$build/tmp"

# wrap NAME REAL: $work/bin/NAME runs REAL under memcheck.  The exit code
# stays the program's own (the tests check it); errors are read from logs.
wrap() {
	cat >"$work/bin/$1" <<EOF
#!/bin/sh
exec "$vg" --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite \\
	--log-file="$work/logs/$1.%p.log" "$2" "\$@"
EOF
	chmod +x "$work/bin/$1"
}
wrap datalite "$build/datalite"
wrap crash_writer "$build/crash_writer"

pass=0
fail=0
# run NAME COMMAND...: one shell test; its own summary must show no failure
run() {
	local name=$1
	shift
	echo "== $name"
	local t0=$SECONDS
	if "$@" >"$work/$name.out" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name (the test itself failed under valgrind):"
		tail -n 20 "$work/$name.out"
	fi
	echo "   $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/$name.out" | tail -n 1) ($((SECONDS - t0)) s)"
}

dl=$work/bin/datalite
run cli bash "$src/tests/cli/test_cli.sh" "$dl"
run cli_gen bash "$src/tests/cli/test_gen.sh" "$dl"
run cli_repl "$build/test_repl" "$dl" "$build/tmp"
run store_crash env KILLS=4 IMPORT_KILLS=3 \
	bash "$src/tests/crash/run_crash.sh" "$work/bin/crash_writer" "$build/tmp" "$dl"
run diff_datascript bash "$src/tests/diff/run.sh" "$dl" \
	--cases 60 --shrink-time 0 --work "$build/tmp/diff-vg"

# Judge every process memcheck watched to its end.
logs=0
for log in "$work"/logs/*.log; do
	[ -e "$log" ] || continue
	grep -q 'ERROR SUMMARY' "$log" || continue # killed (kill -9 test)
	logs=$((logs + 1))
	if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
		fail=$((fail + 1))
		echo "FAIL: memcheck errors in $(basename "$log"):"
		head -n 60 "$log"
	fi
done
if [ "$logs" -lt 100 ]; then
	fail=$((fail + 1))
	echo "FAIL: only $logs processes ran to the end under memcheck (expected hundreds)"
else
	pass=$((pass + 1))
	echo "memcheck: $logs datalite/crash_writer processes, all clean"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
