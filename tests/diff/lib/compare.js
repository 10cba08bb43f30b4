'use strict';
// Canonical answers and their comparison.
//
// Both systems' answers arrive as JSON-like JS values: DataScript's from
// clj->js, datalite's from `--format json`.  Each value is turned into a
// tagged form by its find element's type (from the generator):
//   ['nil']  ['b', bool]  ['n', number]  ['s', string]  ['e', kid]
//   ['t', [items]] (a tuple, in order)   ['set', [items]] (sorted)
// Entity ids become ['e', :k/id of the entity] through each side's own
// id -> :k/id map, so the two systems' different id allocation never shows.
// Keywords are strings with their colon on both sides (DataScript keeps
// keyword values as such strings; datalite's JSON prints them so).
//
// Numbers compare numerically (an int equals the double of the same value);
// aggregates that divide or accumulate doubles (sum avg median variance
// stddev) compare within a relative tolerance.  Relations are compared as
// sorted lists of rows (so a repeated row is a difference), collections as
// sorted lists; a scalar or tuple answer (`?x .`, `[?a ?b]`) may be any one
// row of the query's relation, so it is checked for membership in
// DataScript's relation answer (nil when that is empty).
//
// Pulled maps ((pull ?e pattern)) become ['map', [[key, value] ...]] (see
// pull.js): keys without their colon, :db/id values mapped like every
// entity id, collections sorted bags, compared structurally.

const { canonPull } = require('./pull');

const TOL = 1e-9;

const TAG_ORDER = { nil: 0, b: 1, n: 2, s: 3, e: 4, 'e?': 5, t: 6, set: 7, map: 8, bad: 9 };

// The type descriptor of each find element: {type, tol} or {set|bag: type}.
function findDescs(q) {
	return q.find.map((x) => {
		if (x.t === 'var') return { type: q.types[x.v] };
		if (x.t === 'pull') return { pull: true };
		const at = q.types[x.arg];
		switch (x.fn) {
		case 'count': case 'count-distinct': return { type: 'long' };
		case 'sum': return { type: at, tol: at !== 'long' };
		case 'avg': case 'median': case 'variance': case 'stddev': return { type: 'double', tol: true };
		case 'min': case 'max': return x.n !== undefined ? { bag: at } : { type: at };
		case 'distinct': return { set: at };
		default: throw new Error(`findDescs: aggregate ${x.fn}`);
		}
	});
}

function canonValue(v, type, eids) {
	if (v === null || v === undefined) return ['nil'];
	if (type === 'eid') {
		if (typeof v !== 'number') return ['bad', JSON.stringify(v)];
		return eids.has(v) ? ['e', eids.get(v)] : ['e?', v];
	}
	if (type && typeof type === 'object' && type.tuple) {
		if (!Array.isArray(v)) return ['bad', JSON.stringify(v)];
		return ['t', v.map((x, i) => canonValue(x, type.tuple[i], eids))];
	}
	switch (typeof v) {
	case 'boolean': return ['b', v];
	case 'number': return ['n', v];
	case 'string': return ['s', v];
	default:
		if (Array.isArray(v)) return ['t', v.map((x) => canonValue(x, 'mixed', eids))];
		return ['bad', JSON.stringify(v)];
	}
}

function canonCell(v, desc, eids) {
	if (v === null || v === undefined) return ['nil'];
	if (desc.pull) return canonPull(v, eids, canonValue, cmp);
	if (desc.set || desc.bag) {
		if (!Array.isArray(v)) return ['bad', JSON.stringify(v)];
		const items = v.map((x) => canonValue(x, desc.set || desc.bag, eids)).sort(cmp);
		return ['set', items];
	}
	return canonValue(v, desc.type, eids);
}

// A total order on canonical values (exact; tolerance only in equal()).
function cmp(a, b) {
	const ta = TAG_ORDER[a[0]], tb = TAG_ORDER[b[0]];
	if (ta !== tb) return ta - tb;
	switch (a[0]) {
	case 'nil': return 0;
	case 'b': return (a[1] ? 1 : 0) - (b[1] ? 1 : 0);
	case 'n': case 'e': case 'e?': return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
	case 's': case 'bad': return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
	case 't': case 'set': return cmpList(a[1], b[1]);
	case 'map': {
		for (let i = 0; i < Math.min(a[1].length, b[1].length); i++) {
			const [ka, va] = a[1][i], [kb, vb] = b[1][i];
			if (ka !== kb) return ka < kb ? -1 : 1;
			const c = cmp(va, vb);
			if (c) return c;
		}
		return a[1].length - b[1].length;
	}
	default: throw new Error(`cmp: tag ${a[0]}`);
	}
}

function cmpList(xs, ys) {
	for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
		const c = cmp(xs[i], ys[i]);
		if (c) return c;
	}
	return xs.length - ys.length;
}

function numEq(x, y, tol) {
	if (x === y) return true;
	if (!tol) return false;
	return Math.abs(x - y) <= TOL * Math.max(1, Math.abs(x), Math.abs(y));
}

function equal(a, b, tol) {
	if (a[0] !== b[0]) return false;
	switch (a[0]) {
	case 'nil': return true;
	case 'n': return numEq(a[1], b[1], tol);
	case 't': case 'set':
		return a[1].length === b[1].length && a[1].every((x, i) => equal(x, b[1][i], tol));
	case 'map':
		return a[1].length === b[1].length && a[1].every(([k, x], i) => k === b[1][i][0] && equal(x, b[1][i][1], tol));
	default: return a[1] === b[1];
	}
}

// Rows of a relation answer (arrays, or objects for :keys) -> canonical rows.
function canonRows(ans, q, eids, side) {
	if (!Array.isArray(ans)) throw new Error(`${side}: a relation answer is not an array: ${JSON.stringify(ans)}`);
	const descs = findDescs(q);
	return ans.map((row) => {
		let cells = row;
		if (q.keys) {
			if (row === null || typeof row !== 'object' || Array.isArray(row))
				throw new Error(`${side}: a :keys row is not an object: ${JSON.stringify(row)}`);
			const norm = {};
			for (const [k, v] of Object.entries(row)) norm[k.replace(/^:/, '')] = v;
			const got = Object.keys(norm).sort().join(' '), want = q.keys.slice().sort().join(' ');
			if (got !== want) throw new Error(`${side}: :keys row has keys {${got}}, expected {${want}}`);
			cells = q.keys.map((k) => norm[k]);
		}
		if (!Array.isArray(cells) || cells.length !== descs.length)
			throw new Error(`${side}: a row is not ${descs.length} values: ${JSON.stringify(row)}`);
		return cells.map((c, i) => canonCell(c, descs[i], eids));
	});
}

// Sorts rows by their exact columns first, tolerant ones last, so that rows
// equal within tolerance line up.
function sortRows(rows, descs) {
	const order = [...descs.keys()].sort((i, j) => (descs[i].tol ? 1 : 0) - (descs[j].tol ? 1 : 0));
	return rows.slice().sort((a, b) => {
		for (const i of order) {
			const c = cmp(a[i], b[i]);
			if (c) return c;
		}
		return 0;
	});
}

function rowEq(a, b, descs) {
	return a.length === b.length && a.every((x, i) => equal(x, b[i], descs[i].tol));
}

// Canonical form of a whole answer: {kind, rows|items|value}.
function canonAnswer(ans, q, eids, side) {
	const descs = findDescs(q);
	switch (q.spec) {
	case 'rel': return { kind: 'rel', rows: sortRows(canonRows(ans, q, eids, side), descs) };
	case 'coll':
		if (!Array.isArray(ans)) throw new Error(`${side}: a collection answer is not an array: ${JSON.stringify(ans)}`);
		return { kind: 'coll', items: ans.map((x) => canonCell(x, descs[0], eids)).sort(cmp) };
	case 'scalar': return { kind: 'scalar', value: canonCell(ans, descs[0], eids) };
	case 'tuple':
		if (ans === null || ans === undefined) return { kind: 'tuple', value: null };
		if (!Array.isArray(ans) || ans.length !== descs.length)
			throw new Error(`${side}: a tuple answer is not ${descs.length} values: ${JSON.stringify(ans)}`);
		return { kind: 'tuple', value: ans.map((c, i) => canonCell(c, descs[i], eids)) };
	default: throw new Error(`spec ${q.spec}`);
	}
}

// Compares datalite's answer with DataScript's.
//   dl, ds: {ok: true, value} or {ok: false, error}
//   dsRel: for scalar and tuple specs, DataScript's answer to the query as
//          a relation (asRelation), {ok, value}
//   dlEids, dsEids: Map entity id -> :k/id
// Returns {ok, category, reason, dlCanon, dsCanon}.  Categories of failure:
//   'dl-error'  datalite rejected a query DataScript answered
//   'ds-error'  DataScript rejected a query datalite answered
//   'mismatch'  both answered, differently
//   'bad-output' datalite's output does not fit the find spec
function compareAnswers(q, dl, ds, dsRel, dlEids, dsEids) {
	if (q.expectError) {
		// A query made to be wrong (an unknown function, an unbound find
		// variable).  DataScript looks functions up lazily, so it answers
		// when no row reaches the clause; datalite must reject it anyway.
		if (!dl.ok) return { ok: true, category: 'both-error' };
		return { ok: false, category: 'dl-accepts', reason: `datalite answers a query it must reject (${q.expectError})` };
	}
	if (!ds.ok && ds.timeout && !q.expectError) return { ok: false, skip: true, category: 'ds-timeout', reason: `DataScript gives no answer (${ds.error})` };
	if (!ds.ok && !dl.ok) return { ok: true, category: 'both-error' };
	if (!ds.ok) return { ok: false, category: 'ds-error', reason: `DataScript rejects the query (${ds.error}) but datalite answers` };
	if (!dl.ok) return { ok: false, category: 'dl-error', reason: `datalite fails: ${dl.error}` };
	const descs = findDescs(q);
	let dsC, dlC;
	try {
		dsC = canonAnswer(ds.value, q, dsEids, 'DataScript');
	} catch (e) {
		return { ok: false, category: 'harness', reason: `harness: ${e.message}` };
	}
	try {
		dlC = canonAnswer(dl.value, q, dlEids, 'datalite');
	} catch (e) {
		return { ok: false, category: 'bad-output', reason: e.message, dsCanon: dsC };
	}
	const fail = (reason) => ({ ok: false, category: 'mismatch', reason, dlCanon: dlC, dsCanon: dsC });
	switch (q.spec) {
	case 'rel': {
		const a = dlC.rows, b = dsC.rows;
		if (a.length === b.length && a.every((r, i) => rowEq(r, b[i], descs))) break;
		const missing = b.filter((r) => !a.some((x) => rowEq(x, r, descs)));
		const extra = a.filter((r) => !b.some((x) => rowEq(x, r, descs)));
		let why = `${a.length} rows vs DataScript's ${b.length}`;
		if (missing.length) why += `; missing ${missing.length} (e.g. ${showCut(missing[0])})`;
		if (extra.length) why += `; extra ${extra.length} (e.g. ${showCut(extra[0])})`;
		if (!missing.length && !extra.length) why += '; same rows, different multiplicity';
		return fail(why);
	}
	case 'coll': {
		const a = dlC.items, b = dsC.items, tol = descs[0].tol;
		if (a.length === b.length && a.every((x, i) => equal(x, b[i], tol))) break;
		return fail(`collection ${showCut(a)} vs DataScript's ${showCut(b)}`);
	}
	case 'scalar': case 'tuple': {
		// Any one row of the relation answer is right; nil iff it is empty.
		if (dsRel && dsRel.timeout) return { ok: false, skip: true, category: 'ds-timeout', reason: `DataScript gives no answer (${dsRel.error})` };
		if (!dsRel || !dsRel.ok) return { ok: false, category: 'harness', reason: 'harness: no relation answer for a scalar/tuple query' };
		const rows = sortRows(canonRows(dsRel.value, { ...q, spec: 'rel', keys: null }, dsEids, 'DataScript'), descs);
		const allowed = q.spec === 'scalar' ? rows.map((r) => r[0]) : rows;
		const got = dlC.value;
		const isNil = q.spec === 'scalar' ? got[0] === 'nil' : got === null;
		if (isNil) {
			// (a pulled value may itself be nil: then nil is a row too)
			if (allowed.length === 0 || (q.spec === 'scalar' && allowed.some((x) => x[0] === 'nil'))) break;
			return fail(`nil, but the relation has ${allowed.length} rows (e.g. ${showCut(allowed[0])})`);
		}
		const hit = q.spec === 'scalar' ? allowed.some((x) => equal(x, got, descs[0].tol)) : allowed.some((r) => rowEq(r, got, descs));
		if (hit) break;
		return fail(`${showCut(got)} is not a row of the relation (${allowed.length} rows${allowed.length ? `, e.g. ${showCut(allowed[0])}` : ''})`);
	}
	}
	return { ok: true, category: 'pass', dlCanon: dlC, dsCanon: dsC };
}

// show(), cut to a length for one-line reasons.
function showCut(x, n = 300) {
	const s = show(x);
	return s.length > n ? `${s.slice(0, n)}... (${s.length} characters)` : s;
}

// Readable text of canonical values.
// (a canonical value starts with its tag; a row is an array of values)
function show(x) {
	if (x === null) return 'nil';
	if (typeof x[0] !== 'string') return `[${x.map(show).join(' ')}]`;
	switch (x[0]) {
	case 'nil': return 'nil';
	case 'b': return String(x[1]);
	case 'n': return String(x[1]);
	case 's': return JSON.stringify(x[1]);
	case 'e': return `#eid[k/id ${x[1]}]`;
	case 'e?': return `#eid?${x[1]}`;
	case 't': return `[${x[1].map(show).join(' ')}]`;
	case 'set': return `#{${x[1].map(show).join(' ')}}`;
	case 'map': return `{${x[1].map(([k, v]) => `:${k} ${show(v)}`).join(', ')}}`;
	case 'bad': return `?${x[1]}`;
	default: return JSON.stringify(x);
	}
}

function showAnswer(c) {
	if (!c) return '-';
	switch (c.kind) {
	case 'rel': return `#{${c.rows.map(show).join(' ')}}`;
	case 'coll': return `[${c.items.map(show).join(' ')}]`;
	case 'scalar': return show(c.value);
	case 'tuple': return c.value === null ? 'nil' : show(c.value);
	default: return JSON.stringify(c);
	}
}

module.exports = { compareAnswers, canonAnswer, findDescs, show, showAnswer, cmp, equal, TOL };
