'use strict';
// (pull ?e pattern) in :find: pattern generation, rendering in both
// spellings, and the canonical form of pulled maps.
//
// A pattern is a list of elements:
//   {k:'star'}                       *
//   {k:'dbid'}                       :db/id
//   {k:'attr', attr, rev, opts, form, sub}
//       attr 'a/ref1', rev true for the reverse :a/_ref1; opts a list of
//       ['as', {kind:'str'|'kw', v}] ['limit', n|null] ['default', term];
//       form 'list' (:a/x :limit 2) or 'vec' [:a/x :limit 2]; sub a nested
//       pattern, '...' or a depth number ({:a/ref1 [...]}, {:a/ref1 ...}).
//
// Kept out (README.md, "Known differences"): unknown attributes (datalite
// rejects them, DataScript pulls nothing), :limit on cardinality-one
// attributes and their reverse (DataScript rejects it), one attribute twice at one level,
// aliases named like attributes or "id" (DataScript's clj->js names
// :db/id "id" and drops a keyword's namespace), and recursion that would
// explode: at most one unbounded recursion (...) per pull, only over a
// cardinality-one attribute or its reverse (paths through a graph of
// out-degree one stay linear); depth numbers over other attributes stay
// at 1 or 2.

const { render, fmtString } = require('./edn');

function genPull(g) {
	const state = { alias: 0, recs: 0, ellipsis: false, recKeys: new Set() };
	return genPattern(g, 0, state);
}

function genPattern(g, depth, state) {
	const r = g.rng;
	const attrs = g.db.attrs;
	const refs = attrs.filter((a) => a.type === 'ref');
	const els = [];
	const used = new Set();
	const n = +r.weighted({ 1: 3, 2: 4, 3: 3, 4: 1.5 });
	for (let k = 0; k < n * 3 && els.length < n; k++) {
		const kind = r.weighted({
			attr: 6, star: depth === 0 ? 1 : 0.4, dbid: 0.8,
			nested: refs.length && depth < 2 ? 2.5 : 0, reverse: refs.length ? 1.5 : 0,
			rec: refs.length && state.recs < 2 && !state.ellipsis ? 1.5 : 0,
		});
		if (kind === 'star' || kind === 'dbid') {
			if (used.has(kind)) continue;
			used.add(kind);
			els.push({ k: kind });
			continue;
		}
		const rev = kind === 'reverse' || ((kind === 'nested' || kind === 'rec') && r.chance(0.3));
		const a = kind === 'attr' ? r.pick(attrs) : r.pick(refs);
		const key = (rev ? '_' : '') + a.name;
		if (used.has(key) || (kind === 'rec' && state.recKeys.has(key))) continue;
		const el = { k: 'attr', attr: a.name, rev, opts: [], form: 'list' };
		if (kind === 'nested' || (kind === 'reverse' && depth < 2 && r.chance(0.4))) {
			el.sub = genPattern(g, depth + 1, state);
		} else if (kind === 'rec') {
			// reverse of a cardinality-one ref: each entity has one parent
			const one = !a.many;
			if (one && !state.ellipsis && state.recs === 0 && r.chance(0.5)) {
				el.sub = '...';
				state.ellipsis = true;
			} else {
				el.sub = one ? r.int(1, 4) : r.int(1, 2);
			}
			state.recs++;
			state.recKeys.add(key);
		}
		el.opts = genOpts(g, a, rev, !!el.sub, state);
		if (el.opts.length && !el.sub && r.chance(0.3)) el.form = 'vec';
		used.add(key);
		els.push(el);
	}
	// (:limit over a pattern that may pull nothing: see limitOk)
	for (const el of els) if (!limitOk(el, els)) el.opts = el.opts.filter(([k]) => k !== 'limit');
	return els;
}

// A pattern that never pulls an empty map from an existing entity: it has
// *, :db/id or :k/id (every entity has one).
function neverEmpty(p) {
	return p.some((el) => el.k === 'star' || el.k === 'dbid' || (el.k === 'attr' && el.attr === 'k/id' && !el.rev));
}

// :limit on an attribute with a sub-pattern: DataScript counts only the
// entities whose sub-pull gives something (not an empty map, not the nil
// of a recursion out of depth) towards the limit, datalite takes the limit
// of the values first.  Only where the sub-pull is never empty and there
// is no depth to run out of (a ... recursion is never over an attribute
// :limit takes).
function limitOk(el, level) {
	if (el.k !== 'attr' || el.sub === undefined || !el.opts.some(([k]) => k === 'limit')) return true;
	if (typeof el.sub === 'number') return false;
	return neverEmpty(Array.isArray(el.sub) ? el.sub : level);
}

// Recursions of one pull are over distinct attributes: DataScript keys its
// recursion depths by the attribute spec's value, so two equal specs at
// different places ({:a/ref 1} twice) share one depth, where datalite
// counts each place apart.
function recKeys(p, out = []) {
	for (const el of p) {
		if (el.k !== 'attr') continue;
		if (el.sub === '...' || typeof el.sub === 'number') out.push((el.rev ? '_' : '') + el.attr);
		else if (Array.isArray(el.sub)) recKeys(el.sub, out);
	}
	return out;
}

// A pattern keeps to limitOk and recKeys (for shrunk patterns).
function pullOk(p) {
	const keys = recKeys(p);
	return new Set(keys).size === keys.length && limitsOk(p);
}

function limitsOk(p) {
	return p.every((el) => limitOk(el, p) && (!Array.isArray(el.sub) || limitsOk(el.sub)));
}

function genOpts(g, a, rev, hasSub, state) {
	const r = g.rng;
	const opts = [];
	if (r.chance(0.15)) opts.push(['as', { kind: r.chance(0.5) ? 'str' : 'kw', v: `al${++state.alias}` }]);
	// (:limit on a cardinality-one attribute or its reverse: DataScript
	// rejects it, "Expected limit attribute having :db.cardinality/many")
	if (a.many && r.chance(0.2)) opts.push(['limit', r.pick([1, 1, 2, 3, null])]);
	if (!hasSub && r.chance(0.15)) {
		const t = a.type === 'ref' ? 'long' : r.chance(0.85) ? a.type : r.pick(['long', 'string', 'keyword']);
		opts.push(['default', g.constOf(t)]);
	}
	return r.shuffle(opts);
}

// ---------------------------------------------------------------------------
// Rendering

function attrName(el, d) {
	const name = el.rev ? el.attr.replace('/', '/_') : el.attr;
	return d === 'ds' ? fmtString(name) : ':' + name;
}

function renderSpec(el, d) {
	const name = attrName(el, d);
	if (!el.opts.length) return name;
	const parts = [name];
	for (const [k, v] of el.opts) {
		if (k === 'as') parts.push(':as', v.kind === 'str' ? fmtString(v.v) : ':' + v.v);
		else if (k === 'limit') parts.push(':limit', v === null ? 'nil' : String(v));
		else parts.push(':default', render(v, d));
	}
	return el.form === 'vec' && !el.sub ? `[${parts.join(' ')}]` : `(${parts.join(' ')})`;
}

function renderPull(p, d) {
	return `[${p.map((el) => {
		if (el.k === 'star') return '*';
		if (el.k === 'dbid') return ':db/id';
		const spec = renderSpec(el, d);
		if (el.sub === undefined) return spec;
		return `{${spec} ${Array.isArray(el.sub) ? renderPull(el.sub, d) : String(el.sub)}}`;
	}).join(' ')}]`;
}

// Attribute names a pattern uses (for pruning unused attributes).
function pullAttrs(p, out = new Set()) {
	for (const el of p) {
		if (el.k !== 'attr') continue;
		out.add(el.attr);
		if (Array.isArray(el.sub)) pullAttrs(el.sub, out);
	}
	return out;
}

// Simpler variants of a pattern (for shrinking): without one element,
// without options, with a smaller sub-pattern or recursion depth.
function* pullCandidates(p) {
	if (p.length > 1) for (let i = 0; i < p.length; i++) yield p.filter((_, k) => k !== i);
	for (let i = 0; i < p.length; i++) {
		const el = p[i];
		if (el.k !== 'attr') continue;
		const put = (x) => p.map((y, k) => (k === i ? x : y));
		if (el.sub !== undefined) {
			const rest = { ...el };
			delete rest.sub;
			yield put(rest);
		}
		for (let o = 0; o < el.opts.length; o++) yield put({ ...el, opts: el.opts.filter((_, k) => k !== o) });
		if (typeof el.sub === 'number' && el.sub > 1) yield put({ ...el, sub: el.sub - 1 });
		if (Array.isArray(el.sub)) for (const s of pullCandidates(el.sub)) yield put({ ...el, sub: s });
	}
}

// ---------------------------------------------------------------------------
// Canonical form of a pulled value (see compare.js): maps become
// ['map', [[key, value] ...]] sorted by key, keys without their colon
// (DataScript's :db/id arrives as "id"), the value of :db/id an entity id;
// collections (cardinality-many values, reverse refs) sorted bags.

function normKey(k) {
	if (k === 'id') return 'db/id';
	return k.replace(/^:/, '');
}

function canonPull(v, eids, canonValue, cmp) {
	if (v === null || v === undefined) return ['nil'];
	if (Array.isArray(v)) return ['set', v.map((x) => canonPull(x, eids, canonValue, cmp)).sort(cmp)];
	if (typeof v === 'object') {
		const entries = Object.entries(v).map(([k, x]) => {
			const key = normKey(k);
			return [key, key === 'db/id' ? canonValue(x, 'eid', eids) : canonPull(x, eids, canonValue, cmp)];
		});
		entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
		return ['map', entries];
	}
	return canonValue(v, 'mixed', eids);
}

module.exports = { genPull, renderPull, pullAttrs, pullCandidates, canonPull, pullOk };
