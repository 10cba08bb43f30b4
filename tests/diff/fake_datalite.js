#!/usr/bin/env node
'use strict';
// A stand-in for the datalite CLI, for testing the harness itself: it keeps
// the `transact` and `query --format json` contract but answers with
// DataScript.  Entity ids are shifted (dummy entities are made and retracted
// first), so the harness's id mapping is exercised.  FAKE_DATALITE_BUG
// injects a bug, to check that failures are caught and shrunk:
//   drop7     relation answers lose every row holding the number 7
//   crashsum  queries with a sum aggregate exit 3
//   minmax    (max ?x) answers like (min ?x)
//
//   fake_datalite.js transact DB FILE
//   fake_datalite.js query DB QUERY|@FILE [ARG ...] --format json
//   fake_datalite.js pull DB PATTERN [:k/id N] --format json
//
// It knows the harness's naming: attributes are :k/id and :a/..., keyword
// values are :kw/... .  Not a general tool.

const fs = require('fs');
const path = require('path');
const d = require(path.join(__dirname, 'node_modules', 'datascript'));
const { readAll, Kw, Sym, Num, EList, EMap, ESet, fmtDouble, fmtString } = require('./lib/edn');

const isAttr = (s) => s === 'k/id' || s.startsWith('a/');

function writeDs(x) {
	if (x === null) return 'nil';
	if (x === true || x === false) return String(x);
	if (typeof x === 'string') return fmtString(x);
	if (x instanceof Kw) return x.s.startsWith('kw/') ? fmtString(':' + x.s) : isAttr(x.s) ? fmtString(x.s) : ':' + x.s;
	if (x instanceof Sym) return x.s;
	if (x instanceof Num) return x.dbl ? fmtDouble(x.num) : String(x.num);
	if (Array.isArray(x)) return `[${x.map(writeDs).join(' ')}]`;
	if (x instanceof EList) return `(${x.items.map(writeDs).join(' ')})`;
	if (x instanceof ESet) return `#{${x.items.map(writeDs).join(' ')}}`;
	if (x instanceof EMap) return `{${x.entries.map(([k, v]) => `${writeDs(k)} ${writeDs(v)}`).join(' ')}}`;
	throw new Error(`cannot write ${x}`);
}

function toJs(x) {
	if (x instanceof Kw) return x.s.startsWith('kw/') ? ':' + x.s : isAttr(x.s) ? x.s : ':' + x.s;
	if (x instanceof Num) return x.num;
	if (Array.isArray(x)) return x.map(toJs);
	return x;
}

// A rules vector ([[(name ?a ...) clause ...] ...]), given to DataScript as
// text, heads without required-variable brackets (DataScript mishandles them).
function isRules(x) {
	return Array.isArray(x) && x.length > 0 && x.every((r) => Array.isArray(r) && r[0] instanceof EList);
}

function writeRules(x) {
	return writeDs(x.map(([head, ...body]) => [new EList(head.items.flatMap((t) => (Array.isArray(t) ? t : [t]))), ...body]));
}

function fail(code, msg) {
	process.stderr.write(`error: ${msg}\n`);
	process.exit(code);
}

// The database (or, with reports, the reports of the last file's txs).
function loadDb(file, reports) {
	const txs = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).txs : [];
	const schema = {}, data = [];
	let lastCount = 0;
	for (const text of txs) {
		lastCount = data.length;
		for (const tx of readAll(text)) {
			if (tx.length && tx.every((f) => f instanceof EMap && f.get('db/ident'))) {
				for (const m of tx) {
					const o = {};
					if (m.get('db/unique')) o[':db/unique'] = ':' + m.get('db/unique').s;
					if (m.get('db/cardinality') && m.get('db/cardinality').s === 'db.cardinality/many') o[':db/cardinality'] = ':db.cardinality/many';
					if (m.get('db/valueType') && m.get('db/valueType').s === 'db.type/ref') o[':db/valueType'] = ':db.type/ref';
					schema[m.get('db/ident').s] = o;
				}
			} else {
				data.push(tx.map(([op, e, a, v]) => [':' + op.s, toJs(e), a.s, toJs(v)]));
			}
		}
	}
	const conn = d.create_conn(schema);
	const dummies = Array.from({ length: 37 }, (_, i) => ({ ':db/id': -1 - i, 'fake/dummy': i }));
	const r = d.transact(conn, dummies);
	d.transact(conn, Object.values(r.tempids).filter((x) => x < 1e6).map((e) => [':db.fn/retractEntity', e]));
	const rs = data.map((tx) => d.transact(conn, tx));
	return reports ? rs.slice(lastCount) : d.db(conn);
}

function main() {
	const argv = process.argv.slice(2);
	const cmd = argv[0];
	if (argv.includes('--help')) process.exit(0);
	if (cmd === 'transact') {
		const [file, txFile] = argv.slice(1);
		const text = fs.readFileSync(txFile, 'utf8');
		try {
			readAll(text);
		} catch (e) {
			fail(1, `${txFile}:1:1: ${e.message}`);
		}
		const txs = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).txs : [];
		txs.push(text);
		try {
			fs.writeFileSync(file + '.tmp', JSON.stringify({ txs }));
			for (const r of loadDb(file + '.tmp', true)) {
				const ids = Object.entries(r.tempids).filter(([k]) => !k.startsWith(':')).map(([k, v]) => `${fmtString(k)} ${v}`);
				process.stdout.write(`{:tx ${r.tempids[':db/current-tx']} :tempids {${ids.join(', ')}} :datoms ${r.tx_data.length}}\n`);
			}
		} catch (e) {
			fs.rmSync(file + '.tmp', { force: true });
			fail(1, `${txFile}:1:1: ${e.message}`);
		}
		fs.renameSync(file + '.tmp', file);
		process.exit(0);
	}
	if (cmd !== 'query' && cmd !== 'pull') fail(2, `unknown command ${cmd}`);
	const rest = argv.slice(1).filter((a, i, xs) => a !== '--format' && xs[i - 1] !== '--format');
	if (cmd === 'pull') {
		const [file, patText, eidText] = rest;
		let res;
		try {
			if (patText.includes(':a/nosuch')) throw new Error('unknown attribute :a/nosuch');
			const [lookup] = readAll(eidText);
			res = d.q(`[:find (pull ?e ${writeDs(readAll(patText)[0])}) . :in $ ?v :where [?e "${lookup[0].s}" ?v]]`, loadDb(file), toJs(lookup[1]));
		} catch (e) {
			fail(1, `<pattern>:1:1: ${String(e.message).split('\n')[0]}`);
		}
		process.stdout.write(JSON.stringify(res === undefined ? null : res) + '\n');
		process.exit(0);
	}
	const [file, qArg, ...args] = rest;
	const qText = qArg.startsWith('@') ? fs.readFileSync(qArg.slice(1), 'utf8') : qArg;
	const bug = process.env.FAKE_DATALITE_BUG || '';
	let res;
	try {
		const db = loadDb(file);
		const [qForm] = readAll(qText);
		let dsText = writeDs(qForm);
		if (bug === 'crashsum' && qText.includes('(sum ')) process.exit(3);
		if (bug === 'minmax') dsText = dsText.replace(/\(max /g, '(min ');
		// (datalite rejects unknown pull attributes; the harness names its one :a/nosuch)
		if (qText.includes(':a/nosuch')) throw new Error('unknown attribute :a/nosuch');
		res = d.q(dsText, db, ...args.map((a) => {
			const x = readAll(a)[0];
			return isRules(x) ? writeRules(x) : toJs(x);
		}));
	} catch (e) {
		fail(1, `<query>:1:1: ${String(e.message).split('\n')[0]}`);
	}
	if (bug === 'drop7' && Array.isArray(res) && res.every(Array.isArray)) res = res.filter((row) => !row.includes(7));
	process.stdout.write(JSON.stringify(res === undefined ? null : res) + '\n');
}

main();
