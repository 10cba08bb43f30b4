'use strict';
// Shrinking a failing case: drop query clauses and find elements, inputs,
// entities and datoms while the failure persists (same category), within a
// budget of checks and time.  check(db, q) -> Promise<bool> says whether the
// candidate still fails.

const { checkQuery, ID_ATTR } = require('./gen');

function termVars(t, out) {
	if (!t) return;
	if (t.t === 'var') out.add(t.v);
	else if (t.t === 'vec') t.items.forEach((x) => termVars(x, out));
}

function usedVars(q) {
	const s = new Set();
	for (const c of q.where) {
		if (c.t === 'pat') [c.e, c.a, c.v].forEach((t) => termVars(t, s));
		else {
			c.args.forEach((t) => termVars(t, s));
			if (c.bind) c.bind.vars.forEach((v) => s.add(v));
		}
	}
	for (const x of q.find) s.add(x.v || x.arg);
	q.with.forEach((v) => s.add(v));
	return s;
}

// Simpler variants of q, most drastic first.
function* queryCandidates(q) {
	for (let i = 0; i < q.where.length; i++) yield { ...q, where: q.where.filter((_, k) => k !== i) };
	if (q.find.length > 1) {
		for (let i = 0; i < q.find.length; i++) {
			yield { ...q, find: q.find.filter((_, k) => k !== i), keys: q.keys && q.keys.filter((_, k) => k !== i) };
		}
	}
	for (let i = 0; i < q.find.length; i++) {
		const x = q.find[i];
		if (x.t === 'agg' && !q.find.some((y) => y.t === 'var' && y.v === x.arg)) {
			yield { ...q, find: q.find.map((y, k) => (k === i ? { t: 'var', v: x.arg } : y)) };
		}
	}
	if (q.keys) yield { ...q, keys: null };
	for (let i = 0; i < q.with.length; i++) yield { ...q, with: q.with.filter((_, k) => k !== i) };
	if (q.spec !== 'rel') yield { ...q, spec: 'rel' };
	if (q.form !== 'vec') yield { ...q, form: 'vec' };
	if (q.explicitIn) yield { ...q, explicitIn: false };
	// inputs nothing refers to any more
	const used = usedVars(q);
	for (let i = 0; i < q.inputs.length; i++) {
		if (!q.inputs[i].vars.some((v) => used.has(v))) {
			yield { ...q, inputs: q.inputs.filter((_, k) => k !== i), args: q.args.filter((_, k) => k !== i) };
		}
	}
	// fewer items in collection and relation inputs, and in ground vectors
	for (let i = 0; i < q.inputs.length; i++) {
		if (q.inputs[i].kind !== 'coll' && q.inputs[i].kind !== 'rel') continue;
		const items = q.args[i].items;
		for (let k = 0; k < items.length; k++) {
			const args = q.args.slice();
			args[i] = { t: 'vec', items: items.filter((_, m) => m !== k) };
			yield { ...q, args };
		}
	}
	for (let i = 0; i < q.where.length; i++) {
		const c = q.where[i];
		if (c.t === 'fn' && c.fn === 'ground' && (c.bind.kind === 'coll' || c.bind.kind === 'rel') && c.args[0].items.length > 1) {
			for (let k = 0; k < c.args[0].items.length; k++) {
				const nc = { ...c, args: [{ t: 'vec', items: c.args[0].items.filter((_, m) => m !== k) }] };
				yield { ...q, where: q.where.map((x, m) => (m === i ? nc : x)) };
			}
		}
		if (c.t === 'pred' && c.args.length > 2 && ['<', '>', '<=', '>=', '=', 'not='].includes(c.fn)) {
			for (let k = 0; k < c.args.length; k++) {
				const nc = { ...c, args: c.args.filter((_, m) => m !== k) };
				yield { ...q, where: q.where.map((x, m) => (m === i ? nc : x)) };
			}
		}
	}
}

// A query made to fail must keep what makes it fail.
function keepsError(q) {
	if (!q.expectError) return true;
	return q.where.some((c) => c.fn === 'no-such-fn') || q.find.some((x) => x.v === '?unbound');
}

function withoutEntities(db, kids) {
	const gone = new Set(kids);
	return {
		...db,
		entities: db.entities.filter((e) => !gone.has(e.kid)).map((e) => ({
			kid: e.kid, datoms: e.datoms.filter((d) => !(d.v.t === 'ref' && gone.has(d.v.kid))),
		})),
	};
}

function datomCount(db) { return db.entities.reduce((n, e) => n + e.datoms.length, 0); }

// Drops attributes no datom and no query clause names (k/id stays).
function pruneAttrs(db, q) {
	const named = new Set([ID_ATTR]);
	for (const e of db.entities) for (const d of e.datoms) named.add(d.a);
	const walk = (t) => {
		if (!t) return;
		if (t.t === 'attr') named.add(t.v);
		if (t.t === 'lookup') named.add(t.attr);
		if (t.t === 'vec') t.items.forEach(walk);
	};
	for (const c of q.where) (c.t === 'pat' ? [c.e, c.a, c.v] : c.args).forEach(walk);
	q.args.forEach(walk);
	return { ...db, attrs: db.attrs.filter((a) => named.has(a.name)) };
}

async function shrink(db, q, check, { maxChecks = 400, deadline = Infinity } = {}) {
	let checks = 0;
	const budget = () => checks < maxChecks && Date.now() < deadline;
	const tryIt = async (db2, q2) => {
		if (!budget()) return false;
		checks++;
		return check(db2, q2);
	};

	const shrinkQuery = async () => {
		let progress = true, any = false;
		while (progress && budget()) {
			progress = false;
			for (const q2 of queryCandidates(q)) {
				if (!budget()) break;
				if (!checkQuery(q2) || !keepsError(q2)) continue;
				if (await tryIt(db, q2)) {
					q = q2;
					progress = any = true;
					break;
				}
			}
		}
		return any;
	};

	// Delta debugging over a list: drop chunks, halving the chunk size.
	const ddmin = async (items, rebuild) => {
		let cur = items;
		let n = Math.max(1, Math.floor(cur.length / 2));
		while (n >= 1 && budget()) {
			let removed = false;
			for (let start = 0; start < cur.length && budget();) {
				const cand = cur.slice(0, start).concat(cur.slice(start + n));
				if (cand.length < cur.length && (await tryIt(rebuild(cand), q))) {
					cur = cand;
					removed = true;
				} else {
					start += n;
				}
			}
			if (!removed) n = Math.floor(n / 2);
			else n = Math.min(n, Math.max(1, Math.floor(cur.length / 2)));
		}
		return cur;
	};

	const start = { entities: db.entities.length, datoms: datomCount(db), clauses: q.where.length };
	await shrinkQuery();
	for (let round = 0; round < 3 && budget(); round++) {
		const before = datomCount(db) + q.where.length + q.find.length;
		const allKids = db.entities.map((e) => e.kid);
		const keepKids = await ddmin(allKids, (kids) => {
			const keep = new Set(kids);
			return withoutEntities(db, allKids.filter((k) => !keep.has(k)));
		});
		const keep = new Set(keepKids);
		db = withoutEntities(db, allKids.filter((k) => !keep.has(k)));
		// then single datoms (never an entity's :k/id)
		const refs = [];
		db.entities.forEach((e, ei) => e.datoms.forEach((d, di) => { if (d.a !== ID_ATTR) refs.push([ei, di]); }));
		const base = db;
		const rebuild = (keepRefs) => {
			const keepSet = new Set(keepRefs.map(([ei, di]) => `${ei}:${di}`));
			return {
				...base,
				entities: base.entities.map((e, ei) => ({
					kid: e.kid, datoms: e.datoms.filter((d, di) => d.a === ID_ATTR || keepSet.has(`${ei}:${di}`)),
				})),
			};
		};
		db = rebuild(await ddmin(refs, rebuild));
		await shrinkQuery();
		if (datomCount(db) + q.where.length + q.find.length === before) break;
	}
	const pruned = pruneAttrs(db, q);
	if (pruned.attrs.length < db.attrs.length && budget() && (await tryIt(pruned, q))) db = pruned;
	return {
		db, q, checks, exhausted: !budget(),
		stats: `${start.entities} -> ${db.entities.length} entities, ${start.datoms} -> ${datomCount(db)} datoms, ` +
			`${start.clauses} -> ${q.where.length} clauses, ${checks} checks`,
	};
}

module.exports = { shrink, usedVars, pruneAttrs };
