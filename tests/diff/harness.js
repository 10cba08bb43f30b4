#!/usr/bin/env node
'use strict';
// Differential test: datalite's query answers against DataScript's.
//
//   node harness.js DATALITE [--cases N] [--seed S] [options]
//
// Generates random small databases and random queries over them (lib/gen.js),
// runs every query in DataScript (in process) and in datalite (its CLI, one
// database per generated database), and compares the answers
// (lib/compare.js).  Prints one line per failing case, then a shrunk,
// replayable reproduction of each (lib/shrink.js), and a closing
// "N passed, N failed" line; exits 1 on any failure.  See README.md.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { derive } = require('./lib/rng');
const gen = require('./lib/gen');
const { DsDb, version: dsVersion } = require('./lib/datascript');
const { Datalite, mapLimit } = require('./lib/datalite');
const { compareAnswers, showAnswer } = require('./lib/compare');
const { shrink } = require('./lib/shrink');

const USAGE = `usage: run.sh DATALITE [options]
  --cases N         queries to run (default 300)
  --seed S          the seed (default 1); the same seed runs the same cases
  --per-db K        queries per generated database (default 20)
  --jobs J          datalite processes at a time (default 3)
  --only I[.J]      only database I (and query J) of this seed, e.g. --only 3.7
  --features LIST   switch generator features, e.g. -aggregates,+not (see lib/gen.js)
  --entities LO-HI  entities per database (default: 20 to 200, mostly small)
  --work DIR        where databases and reproductions go (default: a temporary folder)
  --shrink-max N    shrink at most N failures (default 10); others print unshrunk
  --repro-max N     print at most N reproductions (default 50); others are listed
  --shrink-time S   seconds for all shrinking together (default 60)
  --no-shrink       print failures as generated
  --verbose         print every case's query and both answers
  --keep            keep the work folder even when everything passes`;

function parseArgs(argv) {
	const o = {
		bin: null, cases: 300, seed: 1, perDb: 20, jobs: 3, only: null, features: { ...gen.FEATURES },
		entities: null, work: null, shrinkMax: 10, reproMax: 50, shrinkTime: 60, shrink: true, verbose: false, keep: false,
	};
	const num = (s, name) => {
		const n = Number(s);
		if (!Number.isInteger(n) || n < 0) die(`${name} wants a non-negative integer, not ${s}`);
		return n;
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i], next = () => (i + 1 < argv.length ? argv[++i] : die(`${a} wants a value`));
		switch (a) {
		case '--cases': o.cases = num(next(), a); break;
		case '--seed': o.seed = num(next(), a); break;
		case '--per-db': o.perDb = Math.max(1, num(next(), a)); break;
		case '--jobs': o.jobs = Math.max(1, num(next(), a)); break;
		case '--only': {
			const m = /^(\d+)(?:\.(\d+))?$/.exec(next());
			if (!m) die('--only wants I or I.J');
			o.only = { db: +m[1], q: m[2] === undefined ? null : +m[2] };
			break;
		}
		case '--features':
			o.featureArg = [o.featureArg, argv[i + 1]].filter(Boolean).join(',');
			for (const f of next().split(',').filter(Boolean)) {
				const on = f[0] !== '-', name = f.replace(/^[+-]/, '');
				if (!(name in o.features)) die(`unknown feature ${name} (known: ${Object.keys(o.features).join(' ')})`);
				o.features[name] = on;
			}
			break;
		case '--work': o.work = next(); break;
		case '--entities': {
			const m = /^(\d+)-(\d+)$/.exec(next());
			if (!m || +m[1] < 1 || +m[1] > +m[2]) die('--entities wants LO-HI, e.g. 500-2000');
			o.entities = [+m[1], +m[2]];
			break;
		}
		case '--shrink-max': o.shrinkMax = num(next(), a); break;
		case '--repro-max': o.reproMax = num(next(), a); break;
		case '--shrink-time': o.shrinkTime = num(next(), a); break;
		case '--no-shrink': o.shrink = false; break;
		case '--verbose': o.verbose = true; break;
		case '--keep': o.keep = true; break;
		case '-h': case '--help': console.log(USAGE); process.exit(0); break;
		default:
			if (a.startsWith('-') || o.bin) die(`unexpected argument ${a}\n${USAGE}`);
			o.bin = a;
		}
	}
	if (!o.bin) die(USAGE);
	o.bin = path.resolve(o.bin);
	return o;
}

function die(msg) {
	console.log(`error: ${msg}`);
	process.exit(1);
}

// Judges one datalite answer against DataScript's.
function judge(q, dlr, dsAns, dlEids, dsEids) {
	if (!dlr.ok && dlr.crash) return { ok: false, category: 'dl-crash', reason: `datalite crashes or misbehaves: ${dlr.error}` };
	return compareAnswers(q, dlr, dsAns.res, dsAns.rel, dlEids, dsEids);
}

// Evaluates one (database, query) case from scratch: what shrinking checks.
async function evaluate(dl, dir, db, q) {
	let ds;
	try {
		ds = new DsDb(db);
	} catch (e) {
		return { verdict: { ok: false, category: 'harness', reason: `DataScript rejects the tx-data: ${e.message}` } };
	}
	const dsAns = ds.answer(q);
	const c = await dl.create(dir, db);
	if (!c.ok) return { verdict: { ok: false, category: 'tx-failed', reason: c.error }, dsAns };
	const em = await dl.eids(c);
	const dlr = await dl.query(c.db, q);
	return { verdict: judge(q, dlr, dsAns, em.ok ? em.map : new Map(), ds.eids), dsAns, dlr };
}

function shellQuote(s) {
	return /^[A-Za-z0-9_./:@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function indent(text, pre = '    ') {
	return text.replace(/\n$/, '').split('\n').map((l) => pre + l).join('\n');
}

// Writes the reproduction's files and returns its text.
function reproText(o, dir, f) {
	const { db, q, ev, note } = f;
	fs.mkdirSync(dir, { recursive: true });
	const tx = gen.txEdn(db);
	const qText = gen.renderQuery(q, 'dl');
	const args = gen.queryArgs(q, 'dl');
	fs.writeFileSync(path.join(dir, 'tx.edn'), tx);
	fs.writeFileSync(path.join(dir, 'query.edn'), qText + '\n');
	const dbPath = path.join(dir, 'db');
	const replay = [
		`rm -f ${shellQuote(dbPath)} ${shellQuote(dbPath + '-lock')}`,
		`${shellQuote(o.bin)} transact ${shellQuote(dbPath)} ${shellQuote(path.join(dir, 'tx.edn'))}`,
		q.pullCli
			? `${shellQuote(o.bin)} pull ${shellQuote(dbPath)} ${gen.pullCliArgs(q).map(shellQuote).join(' ')} --format json`
			: `${shellQuote(o.bin)} query ${shellQuote(dbPath)} @${shellQuote(path.join(dir, 'query.edn'))}` +
				`${args.map((a) => ' ' + shellQuote(a)).join('')} --format json`,
	];
	fs.writeFileSync(path.join(dir, 'replay.sh'), `#!/bin/sh\nset -e\n${replay.join('\n')}\n`);
	const v = ev.verdict;
	const txLines = tx.split('\n');
	const maxTx = f.shrunk ? 60 : 12; // unshrunk cases are big: the file has it all
	const txShown = txLines.length > maxTx ? txLines.slice(0, maxTx).join('\n') + `\n... (${txLines.length - maxTx} more lines in ${path.join(dir, 'tx.edn')})` : tx;
	const cut = (text) => (text.length > 800 ? `${text.slice(0, 800)}... (${text.length} characters)` : text);
	const dsRes = ev.dsAns && ev.dsAns.res;
	const lines = [
		`== reproduction ${f.id} [${v.category}] ${note}`,
		`  ${v.reason || ''}`,
		'  tx-data:',
		indent(txShown),
		'  query:',
		indent(qText),
	];
	if (args.length) lines.push(`  inputs: ${args.join('  ')}`);
	if (q.expectError) lines.push(`  (a query both systems must reject: ${q.expectError})`);
	if (q.pullCli) lines.push(`  (datalite runs \`datalite pull DB ${gen.pullCliArgs(q).join(' ')}\`; DataScript the query)`);
	lines.push(`  DataScript's spelling: ${gen.renderQuery(q, 'ds')}`);
	if (q.rules) lines.push(`  DataScript's rules: ${gen.renderRules(q.rules, 'ds')}`);
	const raw = ev.dlr && ev.dlr.ok ? ev.dlr.raw.replace(/\s*\n\s*/g, ' ') : '';
	const rawShown = raw.length > 400 ? raw.slice(0, 400) + '...' : raw;
	lines.push(`  datalite:   ${ev.dlr ? (ev.dlr.ok ? (v.dlCanon ? `${cut(showAnswer(v.dlCanon))}   (raw JSON: ${rawShown})` : rawShown) : `error: ${ev.dlr.error}`) : '-'}`);
	lines.push(`  DataScript: ${dsRes ? (dsRes.ok ? cut(v.dsCanon ? showAnswer(v.dsCanon) : JSON.stringify(dsRes.value)) : `error: ${dsRes.error}`) : '-'}`);
	if (q.spec === 'scalar' || q.spec === 'tuple') lines.push('  (a scalar or tuple answer may be any row of the relation answer)');
	lines.push('  entity ids are shown as #eid[k/id N]: the entity whose :k/id is N');
	lines.push(`  replay (files in ${dir}):`);
	lines.push(indent(replay.join('\n')));
	return lines.join('\n');
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	const dl = new Datalite(o.bin);
	if (!fs.existsSync(o.bin)) die(`no datalite binary at ${o.bin}`);
	if (!(await dl.hasQuery())) die(`${o.bin} has no working \`query\` command (\`datalite query --help\` fails)`);
	const work = o.work ? path.resolve(o.work) : fs.mkdtempSync(path.join(os.tmpdir(), 'datalite-diff-'));
	fs.mkdirSync(work, { recursive: true });
	// Only what an earlier run left here (never the folder itself).
	for (const name of fs.readdirSync(work)) {
		if (/^(db\d+|repro-[\d.]+|shrink)$/.test(name)) fs.rmSync(path.join(work, name), { recursive: true, force: true });
	}
	const t0 = Date.now();
	// (--only names a case by its numbers alone, whatever --cases was)
	const nDb = o.only ? o.only.db + 1 : Math.ceil(o.cases / o.perDb);
	console.log(`diff: seed ${o.seed}, ${o.only ? `case ${o.only.db}${o.only.q === null ? '.*' : '.' + o.only.q}` : `${o.cases} cases on ${nDb} databases`}, ` +
		`DataScript ${dsVersion()}, datalite ${o.bin}`);

	let passed = 0, failed = 0;
	const failures = [], skipped = [];
	// per feature (not, or, rules, pull; 'plain' for none of them): [cases, passed, failed, skipped]
	const byFeature = new Map(['not', 'or', 'rules', 'pull', 'plain'].map((f) => [f, [0, 0, 0, 0]]));
	const tally = (q, k) => {
		const fs = gen.featuresUsed(q);
		for (const f of fs.length ? fs : ['plain']) {
			byFeature.get(f)[0]++;
			byFeature.get(f)[k]++;
		}
	};
	for (let i = 0; i < nDb; i++) {
		if (o.only && o.only.db !== i) continue;
		const db = gen.genDb(derive(o.seed, i), { range: o.entities });
		const n = o.only ? o.perDb : Math.min(o.perDb, o.cases - i * o.perDb);
		const idx = [...Array(n).keys()].filter((j) => !o.only || o.only.q === null || o.only.q === j);
		const qs = idx.map((j) => gen.genQuery(derive(o.seed, i, j), db, o.features));
		const ds = new DsDb(db);
		const dsAns = qs.map((q) => ds.answer(q));
		const dir = path.join(work, `db${i}`);
		const c = await dl.create(dir, db);
		if (!c.ok) {
			console.log(`FAIL ${i}.* [tx-failed] ${c.error} (${idx.length} cases)`);
			failed += idx.length;
			failures.push({ id: `${i}`, db, q: qs[0], first: { ok: false, category: 'tx-failed', reason: c.error } });
			continue;
		}
		const em = await dl.eids(c);
		if (!em.ok) console.log(`WARN ${i}: ${em.error}; entity ids cannot be compared`);
		const dlEids = em.ok ? em.map : new Map();
		const dlAns = await mapLimit(qs, o.jobs, (q) => dl.query(c.db, q));
		qs.forEach((q, k) => {
			const id = `${i}.${idx[k]}`;
			const v = judge(q, dlAns[k], dsAns[k], dlEids, ds.eids);
			if (o.verbose) {
				console.log(`case ${id}: ${q.pullCli ? `pull DB ${gen.pullCliArgs(q).join(' ')}` : `${gen.renderQuery(q, 'dl')} ${gen.queryArgs(q, 'dl').join(' ')}`}`);
				console.log(`  datalite:   ${dlAns[k].ok ? (v.dlCanon ? showAnswer(v.dlCanon) : dlAns[k].raw) : 'error: ' + dlAns[k].error}`);
				console.log(`  DataScript: ${dsAns[k].res.ok ? showAnswer(v.dsCanon) : 'error: ' + dsAns[k].res.error}`);
			}
			tally(q, v.ok ? 1 : v.skip ? 3 : 2);
			if (v.ok) {
				passed++;
				return;
			}
			if (v.skip) {
				// DataScript did not answer in time: nothing to compare with
				skipped.push(id);
				if (o.verbose) console.log(`SKIP ${id} [${v.category}] ${v.reason}`);
				return;
			}
			failed++;
			console.log(`FAIL ${id} [${v.category}] ${v.reason}`);
			failures.push({ id, db, q, first: v });
		});
	}
	const runSecs = ((Date.now() - t0) / 1000).toFixed(1);

	if (failures.length) {
		console.log('');
		const deadline = Date.now() + o.shrinkTime * 1000;
		for (const [k, f] of failures.entries()) {
			if (k >= o.reproMax) {
				console.log(`(${failures.length - k} more failures without a reproduction here (--repro-max ${o.reproMax}): ` +
					`${failures.slice(k).map((x) => x.id).join(' ')}; rerun one with --only I.J)\n`);
				break;
			}
			const dir = path.join(work, `repro-${f.id}`);
			let db = f.db, q = f.q, note = '(not shrunk)', shrunk = false;
			if (o.shrink && k < o.shrinkMax && Date.now() < deadline) {
				const cat = f.first.category;
				const check = async (db2, q2) => {
					const ev = await evaluate(dl, path.join(work, 'shrink'), db2, q2);
					return !ev.verdict.ok && ev.verdict.category === cat;
				};
				const s = await shrink(db, q, check, { deadline });
				db = s.db;
				q = s.q;
				note = `(shrunk: ${s.stats}${s.exhausted ? '; budget ran out' : ''})`;
				shrunk = true;
			} else if (o.shrink) {
				note = `(not shrunk: ${k >= o.shrinkMax ? `--shrink-max ${o.shrinkMax}` : '--shrink-time'} reached)`;
			}
			const ev = await evaluate(dl, path.join(dir, 'check'), db, q);
			fs.rmSync(path.join(dir, 'check'), { recursive: true, force: true });
			console.log(reproText(o, dir, { id: f.id, db, q, ev, note, shrunk }));
			console.log('');
		}
		fs.rmSync(path.join(work, 'shrink'), { recursive: true, force: true });
	}
	for (let i = 0; i < nDb; i++) fs.rmSync(path.join(work, `db${i}`), { recursive: true, force: true });
	if (!failures.length && !o.keep && !o.work) fs.rmSync(work, { recursive: true, force: true });
	const same = [`--seed ${o.seed}`];
	if (o.perDb !== 20) same.push(`--per-db ${o.perDb}`);
	if (o.featureArg) same.push(`--features ${o.featureArg}`);
	if (o.entities) same.push(`--entities ${o.entities.join('-')}`);
	console.log(`by feature: ${[...byFeature].map(([f, [n, p, x, s]]) => `${f} ${n} (${p} passed, ${x} failed${s ? `, ${s} not compared` : ''})`).join('; ')}`);
	if (skipped.length) {
		console.log(`${skipped.length} cases not compared: DataScript gave no answer in time (its rule solver loops on some ` +
			`recursive rules): ${skipped.slice(0, 20).join(' ')}${skipped.length > 20 ? ' ...' : ''}`);
	}
	console.log(`(${runSecs} s for the cases, ${((Date.now() - t0) / 1000).toFixed(1)} s in all; ` +
		`rerun one with ${same.join(' ')} --only I.J${failures.length ? `; reproductions in ${work}` : ''})`);
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.log(`error: harness: ${e.stack || e}`);
	process.exit(1);
});
