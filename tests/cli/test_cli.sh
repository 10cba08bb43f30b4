#!/usr/bin/env bash
# End-to-end tests of the database commands: transact, import, export,
# stats and check; query --bench; --help and --version; every exit code; the exact error
# format (error: <source>:<line>:<col>: <message>); the database unchanged
# after every failed command; export -> transact/import round trips.
#   tests/cli/test_cli.sh path/to/datalite
# Prints one line per failure and a final "N passed, N failed" line.
set -u

DL=${1:?usage: test_cli.sh path/to/datalite}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}
quiet() { "$@" >/dev/null 2>&1; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}
equal() { # equal DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok; else bad "$1: expected '$2', got '$3'"; fi
}
matches() { # matches DESCRIPTION REGEX TEXT
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok; else bad "$1: '$3' does not match /$2/"; fi
}
# run ARGS...: runs datalite, leaving stdout in $T/out, stderr in $T/err and
# the exit code in $rc (stdin from $IN when set)
run() {
	if [ -n "${IN:-}" ]; then
		"$DL" "$@" <"$IN" >"$T/out" 2>"$T/err"
	else
		"$DL" "$@" </dev/null >"$T/out" 2>"$T/err"
	fi
	rc=$?
}
exit_code() { # exit_code DESCRIPTION CODE ARGS... (stderr must say why)
	local what=$1 want=$2
	shift 2
	run "$@"
	if [ "$rc" != "$want" ]; then
		bad "$what: exit $rc, wanted $want ($(head -c 300 "$T/err"))"
	elif [ "$want" != 0 ] && ! [ -s "$T/err" ]; then
		bad "$what: no message on stderr"
	else
		ok
	fi
}
# A canonical, id-free dump: export with entity tempids blanked, sorted.
canon() { "$DL" export "$1" | sed 's/"e[0-9]*"/E/g' | sort; }

cat >"$T/schema.edn" <<'EOF'
[{:db/ident :person/name :db/valueType :db.type/string
  :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :person/born :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}]
EOF
cat >"$T/people.edn" <<'EOF'
;; two transactions
[{:db/id "ann" :person/name "Ann" :person/age 30 :person/friend "bob"}
 {:db/id "bob" :person/name "Bob, \"the\" builder" :person/born #inst "1990-05-01T00:00:00Z"}]
[[:db/add [:person/name "Ann"] :person/age 31]
 {:person/name "Cy" :person/friend [[:person/name "Ann"] [:person/name "Bob, \"the\" builder"]]}]
EOF

# --- help and version ------------------------------------------------------
exit_code "--version" 0 --version
matches "--version prints the version" '^datalite [0-9]+\.[0-9]+\.[0-9]+$' "$(cat "$T/out")"
exit_code "--help" 0 --help
for c in transact import export stats check; do
	exit_code "$c --help" 0 "$c" --help
	check "$c --help shows its usage" grep -q "^usage: datalite $c" "$T/out"
	check "--help lists $c" sh -c "'$DL' --help | grep -q '^  $c '"
done
check "import --help documents --map" grep -q -- '--map M' <("$DL" import --help)
check "import --help documents the summary line" grep -q 'imported N datoms in T s (R datoms/s)' <("$DL" import --help)

# --- usage: exit 2 -----------------------------------------------------------
exit_code "no command" 2
exit_code "unknown command" 2 frobnicate
exit_code "transact without DB" 2 transact
exit_code "transact: unknown option" 2 transact "$T/u.db" --frob
exit_code "transact: too many arguments" 2 transact "$T/u.db" a b
exit_code "import without files" 2 import "$T/u.db"
exit_code "import: bad --batch" 2 import --batch 0 "$T/u.db" "$T/people.edn"
exit_code "import: --map without value" 2 import "$T/u.db" --map
exit_code "export without DB" 2 export
exit_code "stats: bad --format" 2 stats "$T/u.db" --format xml
exit_code "check: two databases" 2 check a.db b.db
check "usage errors create nothing" test ! -e "$T/u.db"

# --- transact --------------------------------------------------------------
DB=$T/p.db
exit_code "transact the schema (creates DB)" 0 transact "$DB" "$T/schema.edn"
check "DB created" test -f "$DB"
matches "schema report" '^\{:tx [0-9]+ :tempids \{\} :datoms [0-9]+\}$' "$(cat "$T/out")"
exit_code "transact two vectors" 0 transact "$DB" "$T/people.edn"
equal "one report per vector" 2 "$(wc -l <"$T/out")"
matches "report with tempids" \
	'^\{:tx [0-9]+ :tempids \{"ann" [0-9]+, "bob" [0-9]+\} :datoms 6\}$' "$(head -1 "$T/out")"
matches "second report" '^\{:tx [0-9]+ :tempids \{\} :datoms [0-9]+\}$' "$(tail -1 "$T/out")"
IN=$T/in.edn
echo '[[:db/add "d" :person/name "Di"]]' >"$IN"
exit_code "transact from stdin (no FILE)" 0 transact "$DB"
matches "stdin report" '^\{:tx [0-9]+ :tempids \{"d" [0-9]+\} :datoms 2\}$' "$(cat "$T/out")"
exit_code "transact from stdin (-)" 0 transact "$DB" -
unset IN
"$DL" export "$DB" >"$T/before.edn"

# errors: exit 1, the exact format, nothing changed
printf '[{:person/name "Eve"}]\n[{:person/name "Fay"}\n {:person/age }]\n' >"$T/bad1.edn"
exit_code "bad EDN" 1 transact "$DB" "$T/bad1.edn"
equal "bad EDN: the message" "error: $T/bad1.edn:3:2: map literal must contain an even number of forms" \
	"$(cat "$T/err")"
printf '[{:person/name "Eve"}]\n\n  [{:person/name "Fay" :person/age "old"}]\n' >"$T/bad2.edn"
exit_code "wrong type" 1 transact "$DB" "$T/bad2.edn"
matches "wrong type: error: file:3:3: message" \
	"^error: $T/bad2.edn:3:3: transaction 2 of 2: :person/age expects a long, got \"old\"" \
	"$(head -1 "$T/err")"
check "wrong type: says nothing was written" grep -q '^note: nothing was written' "$T/err"
equal "wrong type: no report" "" "$(cat "$T/out")"
check "wrong type: the first transaction was not kept either" \
	cmp -s "$T/before.edn" <("$DL" export "$DB")
# the third of four vectors fails: the first two (one of them a schema
# change the second uses, with a tempid of the first) are not kept
cat >"$T/bad6.edn" <<'EOF'
[{:db/ident :pet/name :db/valueType :db.type/string :db/unique :db.unique/identity}
 {:db/id "gus" :person/name "Gus"}]
[{:pet/name "Rex"} [:db/add [:person/name "Gus"] :person/age 4]]

[{:pet/name "Rex" :person/age 1}
   [:db/add "x" :person/nope]]
[{:person/name "Hal"}]
EOF
cp "$DB" "$T/p.db.before"
exit_code "third of four vectors fails" 1 transact "$DB" "$T/bad6.edn"
matches "third of four: error: file:5:1: transaction 3 of 4: message" \
	"^error: $T/bad6.edn:5:1: transaction 3 of 4: .* in \\[:db/add \"x\" :person/nope\\]$" \
	"$(head -1 "$T/err")"
equal "third of four: no report" "" "$(cat "$T/out")"
check "third of four: the database is unchanged" cmp -s "$T/before.edn" <("$DL" export "$DB")
check "third of four: the file is byte for byte the same" cmp -s "$DB" "$T/p.db.before"
exit_code "third of four: check passes" 0 check "$DB"
IN=$T/bad6.edn
exit_code "third of four vectors fails (stdin)" 1 transact "$DB"
matches "stdin: the message" "^error: <stdin>:5:1: transaction 3 of 4: " "$(head -1 "$T/err")"
unset IN
check "third of four (stdin): the database is unchanged" cmp -s "$T/before.edn" <("$DL" export "$DB")
printf '{:person/name "Gus"}\n' >"$T/bad3.edn"
exit_code "not a vector" 1 transact "$DB" "$T/bad3.edn"
equal "not a vector: the message" "error: $T/bad3.edn:1:1: tx-data must be a vector of tx forms" "$(cat "$T/err")"
# vectors that build on each other, into a fresh database: a schema the
# next one uses, an upsert of the entity the one before made, tempids per
# transaction; one report each, printed after the commit
cat >"$T/many.edn" <<'EOF'
[{:db/ident :pet/name :db/valueType :db.type/string :db/unique :db.unique/identity}]
[{:db/id "a" :pet/name "Rex"}]
[{:db/id "a" :pet/name "Rex" :pet/age 3} {:db/id "b" :pet/name "Tom"}]
[[:db/add "datomic.tx" :db/doc "four"] {:db/id "a" :pet/age 5}]
EOF
exit_code "transact: vectors that build on each other" 0 transact "$T/many.db" "$T/many.edn"
equal "... one report each" 4 "$(wc -l <"$T/out")"
check "... tx ids one apart, in order" awk '{ t = $2 + 0 } NR > 1 && t != p + 1 { exit 1 } { p = t }' "$T/out"
a2=$(sed -n 2p "$T/out" | sed -E 's/.*"a" ([0-9]+).*/\1/')
equal "... the upsert found the entity of the transaction before" \
	"$a2" "$(sed -n 3p "$T/out" | sed -E 's/.*"a" ([0-9]+),.*/\1/')"
matches "... the transaction's own tempids" \
	"^\\{:tx ([0-9]+) :tempids \\{\"datomic.tx\" \\1, \"a\" [0-9]+\\} :datoms 3\\}$" "$(sed -n 4p "$T/out")"
a4=$(sed -n 4p "$T/out" | sed -E 's/.*"a" ([0-9]+).*/\1/')
check "... the same tempid in another transaction is another entity" test "$a4" != "$a2"
exit_code "... check" 0 check "$T/many.db"
check "... four transactions" grep -Eq '^transactions +4 ' <("$DL" stats "$T/many.db")
IN=$T/bad4.edn
printf '[[:db/add "x" :person/name "Hal"]\n [:db/add "x" :person/friend [:person/name "Nobody"]]]\n' >"$IN"
exit_code "unknown lookup ref (stdin)" 1 transact "$DB"
matches "stdin errors name <stdin>" '^error: <stdin>:1:1: lookup ref \[:person/name "Nobody"\] not found' "$(cat "$T/err")"
unset IN
echo '[[:db/cas [:person/name "Ann"] :person/age 1 2]]' >"$T/bad5.edn"
exit_code "cas mismatch" 1 transact "$DB" "$T/bad5.edn"
exit_code "missing file" 1 transact "$DB" "$T/no-such.edn"
"$DL" export "$DB" >"$T/after.edn"
"$DL" transact "$DB" <<<'[]' >/dev/null
"$DL" export "$DB" >"$T/after2.edn"
check "failed transacts left the data unchanged" cmp -s "$T/before.edn" "$T/after2.edn"
exit_code "bad EDN into a missing DB" 1 transact "$T/new.db" "$T/bad1.edn"
check "a failed transact does not create DB" test ! -e "$T/new.db"

# database errors: exit 3
head -c 20000 /dev/urandom >"$T/junk.db"
exit_code "transact into a file that is not a database" 3 transact "$T/junk.db" "$T/schema.edn"
exit_code "stats of a missing database" 3 stats "$T/missing.db"
exit_code "export of a missing database" 3 export "$T/missing.db"
exit_code "check of a missing database" 3 check "$T/missing.db"
exit_code "stats of a file that is not a database" 3 stats "$T/junk.db"
check "reading commands create nothing" test ! -e "$T/missing.db"
mkdir "$T/ro" && cp "$DB" "$T/ro/p.db" && chmod 555 "$T/ro" && chmod 444 "$T/ro/p.db"
if [ "$(id -u)" != 0 ]; then
	exit_code "transact into a read-only database" 3 transact "$T/ro/p.db" "$T/schema.edn"
fi
exit_code "stats of a read-only database" 0 stats "$T/ro/p.db"
chmod 755 "$T/ro"

# --- stats and check -------------------------------------------------------
exit_code "stats" 0 stats "$DB"
check "stats: totals" grep -Eq '^datoms +[0-9]+ current, [0-9]+ in history$' "$T/out"
check "stats: transactions" grep -Eq '^transactions +[0-9]+ \(last [0-9]+ at [0-9-]+T' "$T/out"
matches "stats: attribute row" '^ :person/friend +\| :db.type/ref +\| :db.cardinality/many +\| +\| +3 \| +2 \| +2 \|' \
	"$(grep ':person/friend' "$T/out")"
exit_code "stats --format edn" 0 stats "$DB" --format edn
check "stats edn reads back" quiet "$DL" edn "$T/out"
matches "stats edn: the counts" ':datoms [0-9]+, :history [0-9]+, :transactions [0-9]+' "$(cat "$T/out")"
exit_code "stats --format json" 0 stats --format=json "$DB"
matches "stats json" '^\{":path":".*",":file-bytes":[0-9]+,' "$(cat "$T/out")"
exit_code "stats --format csv" 0 stats "$DB" --format csv
equal "stats csv header" "attribute,type,cardinality,unique,datoms,values,entities,flags" "$(head -1 "$T/out")"
exit_code "check" 0 check "$DB"
matches "check: summary" '^ok: .*: [0-9]+ datoms, [0-9]+ in history, [0-9]+ transactions; the indexes, the history and the log agree$' \
	"$(cat "$T/out")"
if command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null; then
	# drop one AEVT entry behind datalite's back
	mdb_dump -n -a "$DB" | awk '/^database=aevt/ { s = 1 }
		s == 1 && /^HEADER=END/ { print; getline; getline; s = 2; next } { print }' >"$T/dump"
	mdb_load -n -f "$T/dump" "$T/damaged.db" 2>/dev/null
	exit_code "check of a damaged database" 3 check "$T/damaged.db"
	check "check names the problem" grep -q '^problem: aevt: missing' "$T/out"
	matches "check: error line" '^error: .*damaged.db: [0-9]+ problems? found: the database is damaged$' "$(cat "$T/err")"
else
	echo "SKIP: check of a damaged database (needs mdb_dump and mdb_load from lmdb-utils)"
fi

# --- export and round trips ---------------------------------------------------
exit_code "export" 0 export "$DB"
cp "$T/out" "$T/p.export"
check "export reads back as EDN" quiet "$DL" edn "$T/p.export"
equal "export: a schema vector and an entity vector" 2 "$(grep -c '^\[' "$T/p.export")"
check "export: string tempids" grep -q '{:db/id "e[0-9]*" :person/name "Ann" :person/age 31' "$T/p.export"
check "export: refs use the tempids" grep -Eq ':person/friend #\{"e[0-9]+"\}' "$T/p.export"
check "export: instants" grep -q ':person/born #inst "1990-05-01T00:00:00.000Z"' "$T/p.export"
exit_code "export | transact into a fresh database" 0 transact "$T/copy.db" "$T/p.export"
equal "round trip (transact): same datoms up to ids" "$(canon "$DB")" "$(canon "$T/copy.db")"
matches "round trip: the report maps old ids to new ones" '"e[0-9]+" [0-9]+' "$(tail -1 "$T/out")"
exit_code "export | import into a fresh database" 0 import "$T/copy2.db" "$T/p.export"
equal "round trip (import): same datoms up to ids" "$(canon "$DB")" "$(canon "$T/copy2.db")"
"$DL" export "$T/copy2.db" >"$T/copy2.export"
"$DL" transact "$T/copy3.db" "$T/copy2.export" >/dev/null
equal "a second round trip" "$(canon "$DB")" "$(canon "$T/copy3.db")"
exit_code "export of an empty database" 0 export "$T/copy3.db"
: >"$T/empty.edn"
exit_code "transact of nothing" 0 transact "$T/empty.db" "$T/empty.edn"
exit_code "export of a database with no transactions" 0 export "$T/empty.db"
equal "... is empty" "" "$(cat "$T/out")"

# --- import ------------------------------------------------------------------
"$DL" gen ohlc --symbols 3 --days 2 >"$T/ohlc.edn"
exit_code "import ohlc" 0 import "$T/o1.db" "$T/ohlc.edn"
matches "import: the summary line" '^imported [0-9]+ datoms in [0-9]+\.[0-9]+ s \([0-9]+ datoms/s\)$' \
	"$(tail -1 "$T/out")"
check "no progress bar when stderr is not a terminal" test ! -s "$T/err"
exit_code "check after import" 0 check "$T/o1.db"
"$DL" transact "$T/o2.db" "$T/ohlc.edn" >/dev/null
check "import and transact give the same database (ids included)" \
	cmp -s <("$DL" export "$T/o1.db") <("$DL" export "$T/o2.db")
exit_code "import with small batches" 0 import --batch 100 --quiet "$T/o3.db" "$T/ohlc.edn"
check "... the same database" cmp -s <("$DL" export "$T/o1.db") <("$DL" export "$T/o3.db")
exit_code "import from stdin" 0 import "$T/o4.db" - <"$T/ohlc.edn"
IN=$T/ohlc.edn run import "$T/o4.db" -
equal "import - reads stdin" 0 "$rc"

"$DL" export "$T/o1.db" >"$T/o1.before"
printf '[{:symbol/ticker "ZZZ"}]\n[{:price/volume 1}\n {:price/volume }]\n' >"$T/ibad1.edn"
exit_code "import: bad EDN" 1 import "$T/o1.db" "$T/ohlc.edn" "$T/ibad1.edn"
matches "import: bad EDN message" "^error: $T/ibad1.edn:3:2: map literal must contain an even number of forms" \
	"$(cat "$T/err")"
printf '[{:symbol/ticker "ZZZ"}]\n[{:price/volume 1}\n {:price/volume "x"}]\n' >"$T/ibad2.edn"
exit_code "import: wrong type" 1 import "$T/o1.db" "$T/ibad2.edn"
matches "import: wrong type message" "^error: $T/ibad2.edn:2:1: :price/volume expects a long" "$(head -1 "$T/err")"
check "import: says nothing was written" grep -q '^note: nothing was written' "$T/err"
check "failed imports left the data unchanged" cmp -s "$T/o1.before" <("$DL" export "$T/o1.db")
# failures late in large imports (many batches written before them) leave
# the database exactly as it was: content, statistics, the next tx id
"$DL" stats "$T/o1.db" | grep -v '^file' >"$T/o1.stats"
"$DL" gen ohlc --symbols 3 --days 4 | awk 'NR > 2 && /^\[/ { n++ } n >= 2' >"$T/more.edn"
lines=$(wc -l <"$T/more.edn")
cp "$T/more.edn" "$T/late1.edn"
printf '[{:price/volume 1}\n {:price/volume 2}]\n[{:price/volume 3} {:price/open ]\n' >>"$T/late1.edn"
exit_code "import: malformed last line" 1 import --batch 1000 "$T/o1.db" "$T/more.edn" "$T/late1.edn"
matches "... names file:line:col" "^error: $T/late1.edn:$((lines + 3)):[0-9]+: " "$(head -1 "$T/err")"
cp "$T/more.edn" "$T/late2.edn"
printf '[{:price/volume 1}\n {:price/volume 2.5}]\n' >>"$T/late2.edn"
exit_code "import: a type error in the last transaction" 1 import --batch 1000 "$T/o1.db" "$T/more.edn" "$T/late2.edn"
matches "... names file:line:col" "^error: $T/late2.edn:$((lines + 1)):1: :price/volume expects a long" "$(head -1 "$T/err")"
cp "$T/more.edn" "$T/late3.edn"
printf '[{:symbol/ticker "NEW"}]\n[{:db/ident :price/code :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}]\n[{:price/code "r1"} {:price/code "r1"}]\n' >>"$T/late3.edn"
exit_code "import: a unique conflict late" 1 import --batch 1000 "$T/o1.db" "$T/more.edn" "$T/late3.edn"
matches "... names file:line:col" "^error: $T/late3.edn:$((lines + 3)):1: " "$(head -1 "$T/err")"
check "failed late imports left the data unchanged" cmp -s "$T/o1.before" <("$DL" export "$T/o1.db")
check "... and the statistics (the last tx id too)" cmp -s "$T/o1.stats" <("$DL" stats "$T/o1.db" | grep -v '^file')
last=$(sed -n 's/^transactions .*(last \([0-9]*\) .*/\1/p' "$T/o1.stats")
"$DL" transact "$T/o1.db" <<<'[{:symbol/ticker "ZZZ"}]' >"$T/next.tx"
matches "... so the next transaction gets the next tx id" "^\{:tx $((last + 1)) " "$(cat "$T/next.tx")"
"$DL" transact "$T/o1.db" <<<'[[:db/retractEntity [:symbol/ticker "ZZZ"]]]' >/dev/null
exit_code "import: missing file" 1 import "$T/o5.db" "$T/no-such.edn"
check "a failed import does not create DB" test ! -e "$T/o5.db"
exit_code "import: malformed EDN into a new database" 1 import "$T/o6.db" "$T/ohlc.edn" "$T/late1.edn"
check "... does not leave the database it created" test ! -e "$T/o6.db" -a ! -e "$T/o6.db-lock"

# CSV: the generator's files with mappings, and a header naming attributes
"$DL" gen ohlc --symbols 3 --days 2 --format csv --out "$T/csv"
awk 'NR > 2 && /^\[/ { n++ } n < 2 && NR > 2' "$T/ohlc.edn" >"$T/ohlc-schema.edn"
cat >"$T/sym.map" <<'EOF'
{:columns {"id" :db/id "ticker" :symbol/ticker "name" :symbol/name}}
EOF
cat >"$T/px.map" <<'EOF'
{:columns {"id" :db/id "symbol_id" :price/symbol "time_ms" :price/time
           "minute_of_day" :price/minute-of-day "open" :price/open "high" :price/high
           "low" :price/low "close" :price/close "volume" :price/volume}}
EOF
exit_code "import CSV with mappings" 0 import "$T/c1.db" "$T/ohlc-schema.edn" \
	--map "$T/sym.map" "$T/csv/symbols.csv" --map "$T/px.map" "$T/csv/prices.csv"
equal "CSV and EDN hold the same data" "$(canon "$T/o2.db")" "$(canon "$T/c1.db")"
cat >"$T/people.csv" <<'EOF'
:db/id,person/name,:person/age,person/born,:person/friend
1,"Ann, Jr.",30,1990-05-01T00:00:00Z,2
2,"Bob ""B"" Smith",,631152000000,
3,"multi
line",7,,1
EOF
exit_code "import CSV with a header of attributes" 0 import "$T/c2.db" "$T/schema.edn" "$T/people.csv"
"$DL" export "$T/c2.db" >"$T/c2.export"
check "CSV: quoted comma" grep -q ':person/name "Ann, Jr." :person/age 30 :person/friend #{"e' "$T/c2.export"
check "CSV: doubled quotes" grep -q ':person/name "Bob \\"B\\" Smith" :person/born #inst "1990-01-01T00:00:00.000Z"' "$T/c2.export"
check "CSV: line break in a field" grep -q ':person/name "multi\\nline" :person/age 7' "$T/c2.export"
printf ':person/name,:person/age\nAnn,thirty\n' >"$T/bad.csv"
exit_code "CSV: a cell that is not a long" 1 import "$T/c2.db" "$T/bad.csv"
matches "CSV: error names file:line:col" "^error: $T/bad.csv:2:1: 'thirty' is not a long" "$(cat "$T/err")"
printf ':person/name,:person/age\n"Ann,30\n' >"$T/bad2.csv"
exit_code "CSV: unterminated quote" 1 import "$T/c2.db" "$T/bad2.csv"
matches "CSV: unterminated quote message" "^error: $T/bad2.csv:2:1: unterminated quoted field" "$(cat "$T/err")"
printf ':person/name,:person/age\nAnn,30,extra\n' >"$T/bad3.csv"
exit_code "CSV: a row with too many fields" 1 import "$T/c2.db" "$T/bad3.csv"
printf 'name,age\nAnn,30\n' >"$T/bad4.csv"
exit_code "CSV: a header that names no attribute" 1 import "$T/c2.db" "$T/bad4.csv"
echo '{:columns {"x" 42}}' >"$T/bad.map"
exit_code "a bad mapping" 1 import "$T/c2.db" --map "$T/bad.map" "$T/bad4.csv"
printf ':nope/x\n1\n' >"$T/bad5.csv"
exit_code "CSV: an unknown attribute" 1 import "$T/c2.db" "$T/bad5.csv"
check "CSV: unknown attribute explained" grep -q 'unknown attribute :nope/x (declare it first' "$T/err"

# --- query --bench -------------------------------------------------------------
# (o1.db: ohlc data from import above; $DB: the people, with history)
BQ='[:find ?t ?o :where [?s :symbol/ticker ?t] [?b :price/symbol ?s] [?b :price/open ?o]]'
BRE='^bench: ([0-9]+) runs, median ([0-9]+\.[0-9]{3}) ms, min ([0-9]+\.[0-9]{3}) ms, max ([0-9]+\.[0-9]{3}) ms, rows ([0-9]+)$'
"$DL" query "$T/o1.db" --format csv "$BQ" >"$T/plain.csv"
exit_code "query --bench" 0 query "$T/o1.db" --bench 5 --format csv "$BQ"
equal "--bench: one line on stderr" 1 "$(wc -l <"$T/err")"
matches "--bench: the figures line" "$BRE" "$(cat "$T/err")"
check "--bench: the answer printed once, as without --bench" cmp -s "$T/plain.csv" "$T/out"
equal "--bench: N runs" 5 "$(sed -E "s/$BRE/\\1/" "$T/err")"
equal "--bench: rows is the answer's row count" "$(($(wc -l <"$T/plain.csv") - 1))" \
	"$(sed -E "s/$BRE/\\5/" "$T/err")"
check "--bench: min <= median <= max" awk -v l="$(sed -E "s/$BRE/\\2 \\3 \\4/" "$T/err")" \
	'BEGIN { split(l, x, " "); exit !(x[2] + 0 <= x[1] + 0 && x[1] + 0 <= x[3] + 0) }'
exit_code "--bench after the query, with --threads 1" 0 query "$T/o1.db" --format csv "$BQ" --threads 1 --bench 2
check "... the same answer" cmp -s "$T/plain.csv" "$T/out"
matches "... 2 runs, the same rows" "^bench: 2 runs, .* rows $(($(wc -l <"$T/plain.csv") - 1))\$" "$(cat "$T/err")"
# an input bound from ARG, options around it
AQ='[:find ?n :in $ ?min :where [?e :person/age ?a] [(>= ?a ?min)] [?e :person/name ?n]]'
exit_code "--bench with an input" 0 query --bench 3 "$DB" --format edn "$AQ" 31 --threads 2
equal "... the answer" '#{["Ann"]}' "$(cat "$T/out")"
matches "... rows 1" '^bench: 3 runs, .* rows 1$' "$(cat "$T/err")"
# --as-of: Ann was 30 before the second transaction of people.edn
first_t=$("$DL" query "$DB" --history '[:find (min ?tx) . :where [_ :person/age 30 ?tx true]]')
GQ='[:find ?a :where [?e :person/name "Ann"] [?e :person/age ?a]]'
exit_code "--bench --as-of" 0 query "$DB" --as-of "$first_t" --bench 4 --format edn "$GQ"
equal "... the answer as of then" '#{[30]}' "$(cat "$T/out")"
matches "... the figures" '^bench: 4 runs, .* rows 1$' "$(cat "$T/err")"
exit_code "... and now" 0 query "$DB" --bench 1 --format edn "$GQ"
equal "... the answer now" '#{[31]}' "$(cat "$T/out")"
for n in 0 -3 abc 2x 1000001 ''; do
	exit_code "--bench '$n': usage error" 2 query "$DB" "$GQ" --bench "$n"
	check "--bench '$n': says why" grep -q -- "--bench takes a number of runs from 1 to 1000000, not '$n'" "$T/err"
	equal "--bench '$n': no answer" "" "$(cat "$T/out")"
done
exit_code "--bench without N" 2 query "$DB" "$GQ" --bench
check "... says why" grep -q -- "incomplete option '--bench'" "$T/err"
exit_code "--threads 0: usage error" 2 query "$DB" "$GQ" --threads 0
check "... says why" grep -q -- "--threads takes a number from 1 to 16, not '0'" "$T/err"
exit_code "explain takes no --bench" 2 explain "$DB" "$GQ" --bench 3
exit_code "pull takes no --bench" 2 pull "$DB" '[*]' '[:person/name "Ann"]' --bench 3
exit_code "--bench: a query that cannot run" 1 query "$DB" --bench 3 '[:find ?x :where [(> ?x 1)]]'
equal "... no answer" "" "$(cat "$T/out")"
equal "... no figures line" "" "$(grep '^bench:' "$T/err")"
exit_code "--bench: wrong number of inputs" 1 query "$DB" --bench 3 "$AQ"
check "query --help documents --bench" grep -q 'bench: N runs, median X ms, min Y ms, max Z ms, rows R' \
	<("$DL" query --help)
check "--help lists query --bench" grep -q 'query DB QUERY .*--bench N' <("$DL" --help)

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
