#!/usr/bin/env bash
# Differential test of datalite's query answers against DataScript's.
#
#   tests/diff/run.sh path/to/datalite [--cases N] [--seed S] [options]
#
# Installs DataScript (the version package-lock.json pins) into
# tests/diff/node_modules on first use, runs the harness's self-test, then
# the differential run (harness.js; `--help` lists its options).  Prints one
# line per failing case, a reproduction of each, and a closing
# "N passed, N failed" line; exits 1 on any failure.  node and npm are
# required: without them this fails (scripts/install-deps.sh installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "error: $tool is not installed; the differential test needs node and npm (scripts/install-deps.sh installs them)" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done

want=$(node -p "require('$here/package-lock.json').packages['node_modules/datascript'].version")
have=$(node -p "try { require('$here/node_modules/datascript/package.json').version } catch (e) { '' }")
if [ "$have" != "$want" ]; then
	# One install at a time (ctest -j, several build folders).
	exec 9>"${TMPDIR:-/tmp}/datalite-diff-npm.lock"
	flock 9 || true
	have=$(node -p "try { require('$here/node_modules/datascript/package.json').version } catch (e) { '' }")
	if [ "$have" != "$want" ]; then
		echo "# installing DataScript $want into $here/node_modules" >&2
		if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2); then
			echo "error: npm ci failed: DataScript $want could not be installed" >&2
			echo "0 passed, 1 failed"
			exit 1
		fi
	fi
	exec 9>&-
fi

node "$here/selftest.js"
exec node "$here/harness.js" "$@"
