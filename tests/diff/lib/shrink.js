'use strict';
// Shrinking a failing case: drop query clauses (also inside not, or and
// rule bodies), or branches, rule bodies and rules, find elements and pull
// pattern parts, inputs, entities and datoms while the failure persists
// (same category), within a budget of checks and time.  check(db, q) ->
// Promise<bool> says whether the candidate still fails.

const { checkQuery, ID_ATTR } = require('./gen');
const logic = require('./logic');
const pull = require('./pull');

function usedVars(q) {
	const s = logic.listVars(q.where);
	for (const x of q.find) s.add(x.v || x.arg);
	q.with.forEach((v) => s.add(v));
	return s;
}

// Every clause list of q: the where clauses, rule bodies, and inside them
// the bodies of not and the branches of or.  A path names one:
// ['where', ...steps] or ['rule', ri, bi, ...steps], a step being
// [ci, 'n'] (the not at ci) or [ci, 'b', k] (branch k of the or at ci).
function* listPaths(q) {
	function* nested(list, path) {
		yield { path, list };
		for (const [ci, c] of list.entries()) {
			if (c.t === 'not') yield* nested(c.clauses, [...path, ci, 'n']);
			else if (c.t === 'or') for (const [k, br] of c.branches.entries()) yield* nested(br, [...path, ci, 'b', k]);
		}
	}
	yield* nested(q.where, ['where']);
	for (const [ri, r] of (q.rules || []).entries()) for (const [bi, b] of r.bodies.entries()) yield* nested(b, ['rule', ri, bi]);
}

function setIn(list, steps, newList) {
	if (!steps.length) return newList;
	const [ci, kind] = steps;
	const c = list[ci];
	let nc;
	if (kind === 'n') nc = { ...c, clauses: setIn(c.clauses, steps.slice(2), newList) };
	else nc = { ...c, branches: c.branches.map((br, k) => (k === steps[2] ? setIn(br, steps.slice(3), newList) : br)) };
	return list.map((x, k) => (k === ci ? nc : x));
}

function setList(q, path, newList) {
	if (path[0] === 'where') return { ...q, where: setIn(q.where, path.slice(1), newList) };
	const [, ri, bi] = path;
	return {
		...q,
		rules: q.rules.map((r, k) => (k !== ri ? r : { ...r, bodies: r.bodies.map((b, m) => (m === bi ? setIn(b, path.slice(3), newList) : b)) })),
	};
}

// Simpler variants of q, most drastic first.
function* queryCandidates(q) {
	if (q.pullCli) {
		// (a `datalite pull` case: only its pattern shrinks)
		for (const p of pull.pullCandidates(q.find[0].pattern)) yield { ...q, find: [{ ...q.find[0], pattern: p }] };
		return;
	}
	for (let i = 0; i < q.where.length; i++) yield { ...q, where: q.where.filter((_, k) => k !== i) };
	// rules nothing calls, rule bodies
	if (q.rules) {
		const called = new Set([...logic.callsIn(q.where), ...q.rules.flatMap((r) => r.bodies.flatMap((b) => logic.callsIn(b)))].map((x) => x.name));
		for (const r of q.rules) {
			if (called.has(r.name)) continue;
			const rest = q.rules.filter((x) => x !== r);
			yield { ...q, rules: rest.length ? rest : null };
		}
		for (const [ri, r] of q.rules.entries()) {
			if (r.bodies.length < 2) continue;
			for (let bi = 0; bi < r.bodies.length; bi++) {
				yield { ...q, rules: q.rules.map((x, k) => (k === ri ? { ...x, bodies: x.bodies.filter((_, m) => m !== bi) } : x)) };
			}
		}
	}
	// nested clauses, or branches, an or replaced by one of its branches
	for (const { path, list } of listPaths(q)) {
		for (let i = 0; i < list.length; i++) {
			if (path.length > 1 || path[0] !== 'where') yield setList(q, path, list.filter((_, k) => k !== i));
			const c = list[i];
			if (c.t !== 'or') continue;
			if (c.branches.length > 1) {
				for (let k = 0; k < c.branches.length; k++) {
					yield setList(q, path, list.map((x, m) => (m === i ? { ...c, branches: c.branches.filter((_, n) => n !== k) } : x)));
				}
			}
			for (const br of c.branches) yield setList(q, path, [...list.slice(0, i), ...br, ...list.slice(i + 1)]);
		}
	}
	// pull: a plain variable instead, smaller patterns
	for (let i = 0; i < q.find.length; i++) {
		const x = q.find[i];
		if (x.t !== 'pull') continue;
		const put = (y) => ({ ...q, find: q.find.map((z, k) => (k === i ? y : z)) });
		if (!q.find.some((y) => y.t === 'var' && y.v === x.v)) yield put({ t: 'var', v: x.v });
		for (const p of pull.pullCandidates(x.pattern)) yield put({ ...x, pattern: p });
	}
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
	return q.where.some((c) => c.fn === 'no-such-fn') || q.find.some((x) => x.v === '?unbound') ||
		q.find.some((x) => x.t === 'pull' && pull.pullAttrs(x.pattern).has('a/nosuch'));
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
	const lists = [q.where, ...(q.rules || []).flatMap((r) => r.bodies)];
	for (const l of lists) for (const c of logic.allClauses(l)) logic.clauseTerms(c).forEach(walk);
	q.args.forEach(walk);
	for (const x of q.find) if (x.t === 'pull') pull.pullAttrs(x.pattern).forEach((a) => named.add(a));
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
