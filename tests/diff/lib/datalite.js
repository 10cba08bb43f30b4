'use strict';
// datalite's side, through its CLI (the contract of issue 6):
//   datalite transact DB FILE                      exit 0
//   datalite query DB QUERY [ARG ...] --format json exit 0, JSON on stdout
//   datalite pull DB PATTERN EID --format json      exit 0, JSON on stdout
//   errors: exit 1, "error: ..." on stderr
const { execFile } = require('child_process');
const fs = require('fs');
const path = require('path');
const { renderQuery, txEdn, queryArgs, pullCliArgs, ID_ATTR } = require('./gen');
const { readAll, EMap, Num } = require('./edn');

const TIMEOUT_MS = 30000;

function run(bin, args) {
	return new Promise((resolve) => {
		execFile(bin, args, { timeout: TIMEOUT_MS, maxBuffer: 256 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
			let code = 0, signal = null;
			if (err) {
				code = typeof err.code === 'number' ? err.code : -1;
				signal = err.signal || null;
				if (err.killed && !signal) signal = 'killed';
			}
			resolve({ code, signal, stdout, stderr });
		});
	});
}

function describe(r) {
	const msg = (r.stderr || '').trim().split('\n').slice(0, 3).join(' | ');
	if (r.signal) return `killed by ${r.signal}${r.signal === 'SIGTERM' ? ` (timeout ${TIMEOUT_MS / 1000} s?)` : ''}${msg ? ': ' + msg : ''}`;
	return `exit ${r.code}${msg ? ': ' + msg : ''}`;
}

class Datalite {
	constructor(bin) { this.bin = bin; }

	// Does this binary have `query`?  (Another engineer lands it.)
	async hasQuery() {
		const r = await run(this.bin, ['query', '--help']);
		return r.code === 0;
	}

	// Writes tx.edn into dir, creates dir/db from it.  {ok, db, txFile, error}
	async create(dir, db) {
		fs.rmSync(dir, { recursive: true, force: true });
		fs.mkdirSync(dir, { recursive: true });
		const txFile = path.join(dir, 'tx.edn');
		fs.writeFileSync(txFile, txEdn(db));
		const dbPath = path.join(dir, 'db');
		const r = await run(this.bin, ['transact', dbPath, txFile]);
		if (r.code !== 0 || r.signal) return { ok: false, db: dbPath, txFile, error: `transact: ${describe(r)}` };
		return { ok: true, db: dbPath, txFile, eids: tempidMap(r.stdout) };
	}

	// {ok: true, value, raw} | {ok: false, error, crash}
	// crash: anything but a clean exit 1 (usage, database error, signal,
	// timeout, unreadable output).
	async queryText(dbPath, text, argTexts) {
		return this.runJson(['query', dbPath, text, ...argTexts, '--format', 'json']);
	}

	async runJson(argv) {
		const r = await run(this.bin, argv);
		if (r.code === 0 && !r.signal) {
			try {
				return { ok: true, value: JSON.parse(r.stdout), raw: r.stdout.trim() };
			} catch (e) {
				return { ok: false, crash: true, error: `unreadable JSON on stdout (${e.message}): ${r.stdout.slice(0, 200)}` };
			}
		}
		const crash = r.code !== 1 || !!r.signal || !/^error: /m.test(r.stderr);
		return { ok: false, crash, error: describe(r) };
	}

	// A query, or for a q.pullCli case `datalite pull` of its entity.
	query(dbPath, q) {
		if (q.pullCli) return this.runJson(['pull', dbPath, ...pullCliArgs(q), '--format', 'json']);
		return this.queryText(dbPath, renderQuery(q, 'dl'), queryArgs(q, 'dl'));
	}

	// Map entity id -> :k/id: from the tx reports' tempids ("e<kid>") when
	// transact printed them, else read through a query (which then depends
	// on the query engine being right about the simplest pattern).
	async eids(created) {
		if (created.eids) return { ok: true, map: created.eids, how: 'tempids' };
		const dbPath = created.db;
		const r = await this.queryText(dbPath, `[:find ?e ?id :where [?e :${ID_ATTR} ?id]]`, []);
		if (!r.ok) return { ok: false, error: `the entity-id map query fails: ${r.error}` };
		if (!Array.isArray(r.value)) return { ok: false, error: `the entity-id map query returns ${r.raw}` };
		return { ok: true, map: new Map(r.value.map(([e, id]) => [e, id])), how: 'query' };
	}
}

// The tx reports {:tx T :tempids {"e5" 12345 ...} :datoms N} -> Map entity
// id -> :k/id, or null when they are not there or not readable.
function tempidMap(stdout) {
	let forms;
	try {
		forms = readAll(stdout);
	} catch (e) {
		return null;
	}
	const map = new Map();
	for (const f of forms) {
		const t = f instanceof EMap ? f.get('tempids') : undefined;
		if (!(t instanceof EMap)) continue;
		for (const [k, v] of t.entries) {
			const m = typeof k === 'string' ? /^e(\d+)$/.exec(k) : null;
			if (m && v instanceof Num && !v.dbl) map.set(v.num, +m[1]);
		}
	}
	return map.size ? map : null;
}

// Runs fn over items with at most n at a time; results in order.
async function mapLimit(items, n, fn) {
	const out = new Array(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
	return out;
}

module.exports = { Datalite, mapLimit, run };
