#!/usr/bin/env node
// DataScript peer for datalite's benchmarks.
//
//   node datascript_bench.js [--runs N] [--warmup-ms MS] [--budget-ms MS] [--timeout MS]
//                            [--dump] FILE.edn [QUERY ...]
//
// Loads EDN tx-data written by `datalite gen` (the schema tx first, then
// entity txs) into a DataScript connection, one transact per tx, then runs
// each named query to warm up (once, and again until --warmup-ms, default
// 1000, have passed: the JIT needs it) and N more times, printing per query
//
//   name median_ms min_ms max_ms rows peak_rss_mb runs
//
// on stdout (load time and notes go to stderr).  When N runs would take more
// than --budget-ms (default 120000, judged from the warm-up), fewer are made
// (at least 3); the last column says how many.  Without QUERY names it runs
// every query that fits the loaded data (its kind is told by its schema).
// --dump prints each query's rows, sorted, to stderr, to check answers
// against other systems.  A DataScript query cannot be interrupted, so
// --timeout arms a watchdog process around each query's first run that kills
// this process (after saying so on stderr) when the run takes longer than
// MS: run_peers.sh --timeout runs one query per process for that reason.
//
// DataScript's JS API names attributes by strings without the colon
// ("price/open") and keeps keyword *values* as strings with it (":male"), so
// the queries below are the queries with that spelling.  Instants are
// stored as epoch milliseconds; functions DataScript lacks (day, month) are
// passed in as query inputs.  Nested `q` is not supported by DataScript, so
// ohlc5 runs as two queries, both timed (and ohlc3 is not here).  Rules are
// passed as EDN text, which DataScript's JS API reads itself.
'use strict';

const fs = require('fs');
const { StringDecoder } = require('string_decoder');
const { performance } = require('perf_hooks');
const d = require('datascript');

// ---------------------------------------------------------------------------
// A small EDN reader: enough for what `datalite gen` writes (and a bit more).

class Keyword {
	constructor(s) { this.s = s; } // with the colon: ":price/open"
}
class EMap {
	constructor(entries) { this.entries = entries; } // [[k, v], ...]
}
class Incomplete extends Error {}

const DELIM = new Set([' ', '\t', '\n', '\r', ',', '(', ')', '[', ']', '{', '}', '"', ';']);

class Reader {
	constructor(text) { this.s = text; this.i = 0; }

	skipWs() {
		const s = this.s;
		for (;;) {
			const c = s[this.i];
			if (c === ' ' || c === '\n' || c === ',' || c === '\t' || c === '\r') {
				this.i++;
			} else if (c === ';') {
				const nl = s.indexOf('\n', this.i);
				if (nl < 0) throw new Incomplete();
				this.i = nl + 1;
			} else if (c === '#' && s[this.i + 1] === '_') {
				this.i += 2;
				this.read();
			} else {
				return;
			}
		}
	}

	// The next form, or undefined at the end of the text.
	next() {
		this.skipWs();
		if (this.i >= this.s.length) return undefined;
		return this.read();
	}

	read() {
		this.skipWs();
		const s = this.s;
		if (this.i >= s.length) throw new Incomplete();
		const c = s[this.i];
		switch (c) {
		case '[': case '(': {
			this.i++;
			return this.readSeq(c === '[' ? ']' : ')');
		}
		case '{': {
			this.i++;
			const items = this.readSeq('}');
			const entries = [];
			for (let k = 0; k < items.length; k += 2) entries.push([items[k], items[k + 1]]);
			return new EMap(entries);
		}
		case '"': return this.readString();
		case '#': {
			if (s[this.i + 1] === '{') {
				this.i += 2;
				return this.readSeq('}');
			}
			this.i++;
			const tag = this.readToken();
			const v = this.read();
			if (tag === 'inst') return Date.parse(v);
			return v; // #uuid and others: the value itself
		}
		case ')': case ']': case '}':
			throw new Error(`unexpected '${c}' at ${this.i}`);
		default: {
			const t = this.readToken();
			if (t[0] === ':') return new Keyword(t);
			if (t === 'nil') return null;
			if (t === 'true') return true;
			if (t === 'false') return false;
			const n = Number(t.endsWith('N') || t.endsWith('M') ? t.slice(0, -1) : t);
			if (!Number.isNaN(n)) return n;
			return { sym: t };
		}
		}
	}

	readSeq(close) {
		const out = [];
		for (;;) {
			this.skipWs();
			if (this.i >= this.s.length) throw new Incomplete();
			if (this.s[this.i] === close) {
				this.i++;
				return out;
			}
			out.push(this.read());
		}
	}

	readToken() {
		const s = this.s, start = this.i;
		while (this.i < s.length && !DELIM.has(s[this.i])) this.i++;
		if (this.i >= s.length) throw new Incomplete();
		return s.slice(start, this.i);
	}

	readString() {
		const s = this.s;
		let i = this.i + 1, out = '';
		for (;;) {
			const j = s.indexOf('"', i);
			if (j < 0) throw new Incomplete();
			// A backslash before the quote?  (Not indexOf: it would scan
			// the whole chunk for every string that has none.)
			let k = i;
			while (k < j && s.charCodeAt(k) !== 92) k++;
			if (k === j) {
				out += s.slice(i, j);
				this.i = j + 1;
				return out;
			}
			out += s.slice(i, k);
			const e = s[k + 1];
			if (e === undefined) throw new Incomplete();
			if (e === 'u') {
				out += String.fromCharCode(parseInt(s.slice(k + 2, k + 6), 16));
				i = k + 6;
			} else {
				out += { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' }[e] ?? e;
				i = k + 2;
			}
		}
	}
}

// Every top-level form of a file, read in chunks so that files bigger than a
// JS string can hold (--large is 800 MB) still load.
function* ednForms(path) {
	const fd = fs.openSync(path, 'r');
	const dec = new StringDecoder('utf8');
	const chunk = Buffer.alloc(8 << 20);
	let text = '', eof = false;
	try {
		for (;;) {
			const r = new Reader(text);
			let start = 0;
			for (;;) {
				let form;
				try {
					form = r.next();
				} catch (e) {
					if (!(e instanceof Incomplete) || eof) throw e;
					break;
				}
				if (form === undefined) break;
				start = r.i;
				yield form;
			}
			text = text.slice(start);
			if (eof) {
				if (text.trim() !== '') throw new Error(`${path}: trailing garbage`);
				return;
			}
			const n = fs.readSync(fd, chunk, 0, chunk.length, null);
			if (n === 0) {
				eof = true;
				text += dec.end() + '\n'; // a final newline ends a last token or comment
			} else {
				text += dec.write(chunk.subarray(0, n));
			}
		}
	} finally {
		fs.closeSync(fd);
	}
}

// ---------------------------------------------------------------------------
// EDN tx-data to DataScript's JS tx-data.

const attrName = (k) => k.s.slice(1); // :price/open -> "price/open"

function convValue(v) {
	if (v instanceof Keyword) return v.s;
	if (Array.isArray(v)) {
		if (v.length === 2 && v[0] instanceof Keyword) // a lookup ref
			return [attrName(v[0]), convValue(v[1])];
		return v.map(convValue);
	}
	return v;
}

function convForm(f) {
	if (f instanceof EMap) {
		const o = {};
		for (const [k, v] of f.entries)
			o[k.s === ':db/id' ? ':db/id' : attrName(k)] = convValue(v);
		return o;
	}
	if (Array.isArray(f)) { // [:db/add e a v] and friends
		const [op, e, a, ...rest] = f;
		return [op.s, convValue(e), attrName(a), ...rest.map(convValue)];
	}
	throw new Error('unexpected tx form');
}

const isSchemaTx = (tx) => tx.length > 0 && tx.every((f) => f instanceof EMap &&
	f.entries.some(([k]) => k instanceof Keyword && k.s === ':db/ident'));

// DataScript only wants what changes indexing: refs, many, unique, index.
function convSchema(tx, schema) {
	for (const f of tx) {
		const m = new Map(f.entries.map(([k, v]) => [k.s, v]));
		const s = {};
		const type = m.get(':db/valueType'), card = m.get(':db/cardinality');
		const uniq = m.get(':db/unique');
		if (type && (type.s === ':db.type/ref' || type.s === ':db.type/tuple')) s[':db/valueType'] = type.s;
		if (card && card.s === ':db.cardinality/many') s[':db/cardinality'] = card.s;
		if (uniq) s[':db/unique'] = uniq.s;
		if (m.get(':db/index') === true) s[':db/index'] = true;
		schema[attrName(m.get(':db/ident'))] = s;
	}
}

function load(path) {
	const t0 = performance.now();
	const schema = {};
	let conn = null, txs = 0, datoms = 0;
	for (const tx of ednForms(path)) {
		if (!Array.isArray(tx)) throw new Error(`${path}: a top-level form is not a tx vector`);
		if (isSchemaTx(tx)) {
			if (conn) throw new Error(`${path}: schema after data`);
			convSchema(tx, schema);
			continue;
		}
		if (!conn) conn = d.create_conn(schema);
		datoms += d.transact(conn, tx.map(convForm)).tx_data.length;
		txs++;
	}
	if (!conn) conn = d.create_conn(schema);
	const ms = performance.now() - t0;
	process.stderr.write(`load: ${txs} txs, ${datoms} datoms in ${ms.toFixed(0)} ms ` +
		`(${(datoms / ms / 1000).toFixed(3)} M datoms/s), peak rss ${rssMb()} MB\n`);
	return { db: d.db(conn), schema };
}

// ---------------------------------------------------------------------------
// The queries.

const dayOf = (ms) => new Date(ms).getUTCDate();
const monthOf = (ms) => new Date(ms).getUTCMonth() + 1;

const Q = {
	// DataScript's suite, with its texts (bench/datascript/bench/datascript.cljc).
	'q1': { data: 'social', q: '[:find ?e :where [?e "name" "Ivan"]]' },
	'q2': { data: 'social', q: '[:find ?e ?a :where [?e "name" "Ivan"] [?e "age" ?a]]' },
	'q2-switch': { data: 'social', q: '[:find ?e ?a :where [?e "age" ?a] [?e "name" "Ivan"]]' },
	'q3': { data: 'social', q: '[:find ?e ?a :where [?e "name" "Ivan"] [?e "age" ?a] [?e "sex" ":male"]]' },
	'q4': { data: 'social', q: '[:find ?e ?l ?a :where [?e "name" "Ivan"] [?e "last-name" ?l] [?e "age" ?a] [?e "sex" ":male"]]' },
	'qpred1': { data: 'social', q: '[:find ?e ?s :where [?e "salary" ?s] [(> ?s 50000)]]' },
	'qpred2': { data: 'social', q: '[:find ?e ?s :in $ ?min_s :where [?e "salary" ?s] [(> ?s ?min_s)]]', args: [50000] },

	// The OHLC queries of the benchmark issue (numbers as there; 3 needs
	// correlated subqueries, which DataScript lacks).
	'ohlc1': { data: 'ohlc', q: '[:find ?o :where [?s "symbol/ticker" "NVDA"] [?b "price/symbol" ?s] [?b "price/time" ?t] [?b "price/open" ?o]]' },
	'ohlc2': { data: 'ohlc', q: '[:find ?b ?t ?h ?l ?c ?v :in $ ?day :where [?s "symbol/ticker" "NVDA"] [?b "price/symbol" ?s] [?b "price/time" ?t] [?b "price/high" ?h] [?b "price/low" ?l] [?b "price/close" ?c] [?b "price/volume" ?v] [(?day ?t) ?d] [(= ?d 5)]]', args: [dayOf] },
	'ohlc4': { data: 'ohlc', q: '[:find ?tk ?m ?d (max ?h) (min ?l) (sum ?v) :with ?b :in $ ?month ?day :where [?s "symbol/ticker" ?tk] [?b "price/symbol" ?s] [?b "price/time" ?t] [(?month ?t) ?m] [(?day ?t) ?d] [?b "price/high" ?h] [?b "price/low" ?l] [?b "price/volume" ?v]]', args: [monthOf, dayOf] },
	'ohlc5': {
		data: 'ohlc',
		run(db) {
			const latest = d.q('[:find ?s (max ?t) :where [?b "price/symbol" ?s] [?b "price/time" ?t]]', db);
			return d.q('[:find ?tk ?t ?c :in $ [[?s ?t]] :where [?s "symbol/ticker" ?tk] [?b "price/symbol" ?s] [?b "price/time" ?t] [?b "price/close" ?c]]', db, latest);
		},
	},
};

// The rules benchmarks: DataScript's own (rules over :follows), a
// transitive closure over a random graph, and ancestors in a genealogy;
// the same texts as bench/bench_query.c, in DataScript's spelling.
const FOLLOWS_RULES = '[[(follows ?x ?y) [?x "follows" ?y]] ' +
	'[(follows ?x ?y) [?x "follows" ?t] (follows ?t ?y)]]';
const REACH_RULES = '[[(reach ?a ?b) [?e "edge/from" ?a] [?e "edge/to" ?b]] ' +
	'[(reach ?a ?b) (reach ?a ?x) [?e "edge/from" ?x] [?e "edge/to" ?b]]]';
const ANC_LEFT_RULES = '[[(anc ?a ?b) [?a "person/parent" ?b]] ' +
	'[(anc ?a ?b) (anc ?a ?x) [?x "person/parent" ?b]]]';
const ANC_RIGHT_RULES = '[[(anc ?a ?b) [?a "person/parent" ?b]] ' +
	'[(anc ?a ?b) [?a "person/parent" ?x] (anc ?x ?b)]]';
const ANC_Q = '[:find ?b :in $ % ?id :where [?a "person/id" ?id] (anc ?a ?b)]';

Object.assign(Q, {
	'rules': { data: 'follows', q: '[:find ?e ?e2 :in $ % :where (follows ?e ?e2)]', args: [FOLLOWS_RULES] },
	'reach': { data: 'graph', q: '[:find ?b :in $ % :where [?a "node/id" 1] (reach ?a ?b)]', args: [REACH_RULES] },
	'reach-count': {
		data: 'graph',
		q: '[:find (count ?b) . :in $ % :where [?a "node/id" 1] (reach ?a ?b)]',
		args: [REACH_RULES],
		scalar: true,
	},
	'anc': { data: 'genealogy', q: ANC_Q, args: [ANC_LEFT_RULES, 250000] },
	'anc-right': { data: 'genealogy', q: ANC_Q, args: [ANC_RIGHT_RULES, 250000] },
	'anc-all': {
		data: 'genealogy',
		q: '[:find (count ?b) . :with ?a :in $ % :where (anc ?a ?b)]',
		args: [ANC_LEFT_RULES],
		scalar: true,
	},
	'anc-g20': { data: 'genealogy', q: ANC_Q, args: [ANC_LEFT_RULES, 2050] },
	'anc-g20-right': { data: 'genealogy', q: ANC_Q, args: [ANC_RIGHT_RULES, 2050] },
});

// DataScript's pull benchmarks (bench/datascript/bench/datascript.cljc) on
// its wide-db 4 5 (`datalite gen follows --depth 4 --width 5
// --people-attrs`), pulling the root; the row count is the values in the
// answer, counted as bench_query.c's count_values does.
function countValues(m) {
	let n = 0;
	for (const k of Object.keys(m)) {
		const v = m[k];
		if (Array.isArray(v)) for (const x of v) n += 1 + (x && typeof x === 'object' ? countValues(x) : 0);
		else n += 1 + (v && typeof v === 'object' ? countValues(v) : 0);
	}
	return n;
}
const pullSpec = (pattern) => ({ data: 'pull', run: (db) => d.pull(db, pattern, ['id', 1]), count: countValues });
Object.assign(Q, {
	'pull-one': pullSpec('["name" {"follows" ...}]'),
	'pull-many': pullSpec('[:db/id "last-name" "alias" "sex" "age" "salary" {"follows" ...}]'),
	'pull-wildcard': pullSpec('[* {"follows" ...}]'),
});

// DataScript's write benchmarks on people20k (people.csv of `datalite gen
// social --format csv`), each from an empty db of the five attributes: the
// datoms counted are those the transactions asserted or retracted.
let PEOPLE = null;
const ATTRS = ['name', 'last-name', 'sex', 'age', 'salary'];
const emptyDb = () => d.empty_db({});
const pvals = (p) => [p.name, p.last, p.sex, p.age, p.salary];
// The JS API's db_with gives no report: the datoms are counted after the
// clock stops, as those in the db (adds) or gone from it (retract-5).
const txCount = (db, tx) => d.db_with(db, tx);
const ndatoms = (db) => d.datoms(db, ':eavt').length;
const allTx = () => PEOPLE.map((p) => ({ ':db/id': p.id, name: p.name, 'last-name': p.last, sex: p.sex, age: p.age, salary: p.salary }));
const W = {
	'add-1': (acc) => PEOPLE.reduce((db, p) => ATTRS.reduce((db2, a, k) =>
		txCount(db2, [[':db/add', p.id, a, pvals(p)[k]]], acc), db), emptyDb()),
	'add-5': (acc) => PEOPLE.reduce((db, p) => txCount(db, [{ ':db/id': p.id, name: p.name, 'last-name': p.last, sex: p.sex, age: p.age, salary: p.salary }], acc), emptyDb()),
	'add-all': (acc) => txCount(emptyDb(), allTx(), acc),
	'init': (acc) => {
		const ds = [];
		for (const p of PEOPLE) pvals(p).forEach((v, k) => ds.push([p.id, ATTRS[k], v, 536870913]));
		// [e a v tx] arrays, the JS API's datoms (tx0 + 1: the first tx);
		// building them is setup in DataScript's bench too: init is timed alone
		const t0 = performance.now();
		const db = d.init_db(ds, {});
		acc.ms = performance.now() - t0;
		return db;
	},
	'retract-5': (acc) => {
		const full = d.db_with(emptyDb(), allTx());
		const t0 = performance.now();
		const db = PEOPLE.reduce((db, p) => txCount(db, ATTRS.map((a, k) => [':db/retract', p.id, a, pvals(p)[k]]), acc), full);
		acc.ms = performance.now() - t0;
		acc.gone = ndatoms(full) - ndatoms(db);
		return db;
	},
};
for (const name of Object.keys(W)) {
	Q[name] = {
		data: 'writes',
		run() {
			const acc = { n: 0 };
			const t0 = performance.now();
			const db = W[name](acc);
			const ms = performance.now() - t0;
			return { n: acc.gone === undefined ? ndatoms(db) : acc.gone, ms: acc.ms === undefined ? ms : acc.ms };
		},
		count: (res) => res.n,
	};
}

function readPeople(path) {
	const lines = fs.readFileSync(path, 'utf8').split('\n').slice(1).filter((l) => l);
	return lines.map((l) => {
		const [id, name, last, sex, age, salary] = l.split(',');
		return { id: Number(id), name, last, sex: ':' + sex, age: Number(age), salary: Number(salary) };
	});
}

function rssMb() {
	return (process.resourceUsage().maxRSS / 1024).toFixed(1);
}

// A process that kills this one after ms unless killed first.
function watchdog(ms, name) {
	const msg = `datascript_bench: ${name}: TIMEOUT (no answer after ${ms} ms; peak rss`;
	const pid = process.pid;
	return require('child_process').spawn('sh',
		['-c', `sleep ${ms / 1000} && echo "${msg} $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' ` +
			`/proc/${pid}/status))" >&2 && kill -9 ${pid}`],
		{ stdio: ['ignore', 'ignore', 'inherit'] });
}

function runOnce(name, db) {
	const spec = Q[name];
	const t0 = performance.now();
	const res = spec.run ? spec.run(db) : d.q(spec.q, db, ...(spec.args || []));
	const ms = performance.now() - t0;
	// a write bench times its own part (init: not the datoms' building)
	return { ms: spec.data === 'writes' ? res.ms : ms, res };
}

function main() {
	const argv = process.argv.slice(2);
	let runs = 10, dump = false, file = null, budgetMs = 120000, warmupMs = 1000, timeoutMs = 0;
	const names = [];
	const usage = (msg) => {
		if (msg) process.stderr.write(`datascript_bench: ${msg}\n`);
		process.stderr.write('usage: node datascript_bench.js [--runs N] [--warmup-ms MS] [--budget-ms MS] [--timeout MS]\n' +
			'                                [--dump] FILE.edn [QUERY ...]\n' +
			`queries: ${Object.keys(Q).join(' ')}\n`);
		process.exit(msg ? 2 : 0);
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--help' || a === '-h') usage();
		else if (a === '--runs') {
			runs = Number(argv[++i]);
			if (!Number.isInteger(runs) || runs < 1) usage('--runs wants a positive number');
		} else if (a === '--warmup-ms') {
			warmupMs = Number(argv[++i]);
			if (!(warmupMs >= 0)) usage('--warmup-ms wants a number');
		} else if (a === '--timeout') {
			timeoutMs = Number(argv[++i]);
			if (!(timeoutMs >= 0)) usage('--timeout wants a number of milliseconds');
		} else if (a === '--budget-ms') {
			budgetMs = Number(argv[++i]);
			if (!(budgetMs > 0)) usage('--budget-ms wants a positive number');
		} else if (a === '--dump') dump = true;
		else if (a.startsWith('-')) usage(`unknown option ${a}`);
		else if (!file) file = a;
		else if (!Q[a]) usage(`unknown query ${a}`);
		else names.push(a);
	}
	if (!file) usage('which EDN file?');

	let db = null, schema = {};
	if (file.endsWith('.csv')) PEOPLE = readPeople(file);
	else ({ db, schema } = load(file));
	const kind = PEOPLE ? 'writes' : schema['price/time'] ? 'ohlc' : schema['salary'] ? 'social'
		: schema['follows'] ? 'follows' : schema['edge/from'] ? 'graph'
		: schema['person/parent'] ? 'genealogy' : 'other';
	const todo = names.length ? names : Object.keys(Q).filter((n) => Q[n].data === kind);
	for (const name of todo) {
		// Warm up: once, and again until warmupMs have passed.
		const start = performance.now();
		const dog = timeoutMs > 0 ? watchdog(timeoutMs, name) : null;
		let warm = runOnce(name, db);
		if (dog) dog.kill();
		while (performance.now() - start < warmupMs) warm = runOnce(name, db);
		// Fewer runs when N would blow the time budget (at least 3).
		let n = runs;
		if (warm.ms * runs > budgetMs) n = Math.max(Math.min(runs, 3), Math.floor(budgetMs / warm.ms));
		const times = [];
		let rows = 0, res;
		for (let r = 0; r < n; r++) {
			const o = runOnce(name, db);
			times.push(o.ms);
			res = o.res;
			// a scalar (find spec `.`) is one row, or none
			rows = Q[name].count ? Q[name].count(res)
				: Q[name].scalar ? (res === null || res === undefined ? 0 : 1) : res.length;
		}
		times.sort((a, b) => a - b);
		const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
		console.log(`${name} ${median.toFixed(3)} ${times[0].toFixed(3)} ${times[n - 1].toFixed(3)} ${rows} ${rssMb()} ${n}`);
		if (dump) {
			const lines = Q[name].scalar || Q[name].count ? [JSON.stringify(res)] : res.map((row) => JSON.stringify(row)).sort();
			process.stderr.write(`--- ${name}\n${lines.join('\n')}\n`);
		}
	}
}

main();
