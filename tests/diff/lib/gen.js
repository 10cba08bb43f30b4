'use strict';
// Random small databases and random queries over them.
//
// A database: a schema (the unique identity :k/id, a long, plus 3-8
// attributes of types long, double, string, keyword, boolean and ref, some
// cardinality-many) and 20-200 entities.  Every entity has a :k/id (1..N,
// written in shuffled order so that entity ids and :k/id differ); answers
// are compared through :k/id, never through entity ids (see compare.js).
//
// A query: built clause by clause, tracking which variables are bound and
// their types, so that every function argument is bound before its clause
// (Datomic evaluates in order), comparisons only meet comparable values,
// and nothing the two systems knowingly disagree on is generated (see
// README.md, "Known differences").  Which features appear is a flag list
// (FEATURES); `not`, `or`, rules and pull have flags and slots in
// genClause but no generator yet.

const { Rng } = require('./rng');
const { render } = require('./edn');

// The per-feature flags.  `false` ones are not implemented yet: adding one
// means a generator in CLAUSE_GENERATORS (or the find/pull code) and an
// entry in the README.
const FEATURES = {
	patterns: true, // data patterns: constants, vars, _ in e/a/v
	joins: true, // clauses sharing variables (else each stays mostly alone)
	preds: true, // < > <= >= = not=
	textOrder: true, // < > <= >= on strings and keywords (numbers always)
	fns: true, // + - * str subs count ground identity get-else missing? tuple untuple
	aggregates: true, // count count-distinct sum avg min max median variance stddev distinct, (min n) (max n), :with
	findSpecs: true, // scalar ?x . / collection [?x ...] / tuple [?a ?b] besides relations
	keys: true, // :keys, :strs, :syms
	explicitSrc: true, // patterns written [$ ?e :a ?v]
	inputs: true, // :in scalar, tuple, collection, relation
	lookupRefs: true, // [:k/id n] as a pattern's entity or ref value
	attrVars: true, // _ or a variable in the attribute position (entity bound elsewhere)
	mapForm: true, // queries written as maps {:find [...] :where [...]}
	errors: true, // a few queries both systems must reject
	not: false, // not / not-join          (next issue)
	or: false, // or / or-join             (next issue)
	rules: false, // rules and %           (next issue)
	pull: false, // pull in :find          (next issue)
};

const ID_ATTR = 'k/id';
const VALUE_TYPES = ['long', 'double', 'string', 'keyword', 'boolean', 'ref'];
const WORDS = ['apple', 'apricot', 'banana', 'berry', 'cherry', 'date', 'fig', 'grape', 'kiwi', 'lemon',
	'lime', 'mango', 'melon', 'olive', 'peach', 'pear', 'plum', 'Quince', 'Raisin', 'abc', 'abd', 'zeta', 'Zulu'];
const KEYWORDS = ['red', 'green', 'blue', 'cyan', 'magenta', 'yellow', 'black', 'white', 'orange', 'teal']
	.map((k) => 'kw/' + k); // one namespace: string order = keyword order (README)

// ---------------------------------------------------------------------------
// Databases

function genDb(seed, opts = {}) {
	const rng = new Rng(seed);
	const sizes = [20, 25, 30, 40, 50, 60, 80, 100, 150, 200];
	const nEnt = opts.entities || (opts.range ? rng.int(opts.range[0], opts.range[1]) : rng.pick(sizes));
	const attrs = [{ name: ID_ATTR, type: 'long', many: false, unique: true, p: 1 }];
	const nAttr = rng.int(3, 8);
	const types = ['long', rng.pick(['double', 'string']), rng.pick(['ref', 'keyword'])];
	while (types.length < nAttr) types.push(rng.pick(VALUE_TYPES));
	const shortName = { long: 'long', double: 'dbl', string: 'str', keyword: 'kw', boolean: 'bool', ref: 'ref' };
	types.forEach((type, i) => {
		const many = type !== 'boolean' && rng.chance(0.3);
		attrs.push({ name: `a/${shortName[type]}${i + 1}${many ? 'm' : ''}`, type, many, unique: false,
			p: rng.pick([0.3, 0.5, 0.7, 0.9, 1]) });
	});

	// Value pools: small, so that values repeat and joins find partners.
	const pools = {
		long: uniq(Array.from({ length: rng.int(6, 16) }, () => rng.int(-5, 60))),
		double: uniq(Array.from({ length: rng.int(5, 12) }, () => rng.int(-5, 30) + rng.pick([0.25, 0.5, 0.75]))),
		string: rng.sample(WORDS, rng.int(5, 12)),
		keyword: rng.sample(KEYWORDS, rng.int(3, 7)),
		boolean: [true, false],
	};
	const kids = Array.from({ length: nEnt }, (_, i) => i + 1);
	const entities = [];
	for (const kid of rng.shuffle(kids)) {
		const datoms = [{ a: ID_ATTR, v: { t: 'long', v: kid } }];
		for (const at of attrs) {
			if (at.name === ID_ATTR || !rng.chance(at.p)) continue;
			const n = at.many ? rng.int(1, 3) : 1;
			const seen = new Set();
			for (let k = 0; k < n; k++) {
				const v = at.type === 'ref' ? { t: 'ref', kid: rng.pick(kids) } : { t: at.type, v: rng.pick(pools[at.type]) };
				const key = JSON.stringify(v);
				if (seen.has(key)) continue;
				seen.add(key);
				datoms.push({ a: at.name, v });
			}
		}
		entities.push({ kid, datoms });
	}
	return { attrs, entities, pools };
}

function uniq(xs) { return [...new Set(xs)]; }

// The values each attribute actually holds in db (for constants that hit).
function presentValues(db) {
	const out = {};
	for (const at of db.attrs) out[at.name] = [];
	for (const e of db.entities) for (const d of e.datoms) if (d.v.t !== 'ref') out[d.a].push(d.v.v);
	for (const k of Object.keys(out)) out[k] = uniq(out[k]);
	return out;
}

// tx-data for datalite (EDN text): the schema, then one tx with every datom,
// entities named by string tempids "e<kid>".
function txEdn(db) {
	const vt = { long: 'long', double: 'double', string: 'string', keyword: 'keyword', boolean: 'boolean', ref: 'ref' };
	const schema = db.attrs.map((a) => `{:db/ident :${a.name} :db/valueType :db.type/${vt[a.type]} ` +
		`:db/cardinality :db.cardinality/${a.many ? 'many' : 'one'}${a.unique ? ' :db/unique :db.unique/identity' : ''}}`);
	const data = [];
	for (const e of db.entities) for (const d of e.datoms) data.push(`[:db/add "e${e.kid}" :${d.a} ${valueEdn(d.v, 'dl')}]`);
	return `[${schema.join('\n ')}]\n[${data.join('\n ')}]\n`;
}

function valueEdn(v, dialect) {
	return v.t === 'ref' ? `"e${v.kid}"` : render(v, dialect);
}

// The same database for DataScript's JS API: its schema object and tx-data.
function dsSchema(db) {
	const s = {};
	for (const a of db.attrs) {
		const o = {};
		if (a.unique) o[':db/unique'] = ':db.unique/identity';
		if (a.many) o[':db/cardinality'] = ':db.cardinality/many';
		if (a.type === 'ref') o[':db/valueType'] = ':db.type/ref';
		s[a.name] = o;
	}
	return s;
}

function dsTx(db) {
	const tx = [];
	for (const e of db.entities) {
		for (const d of e.datoms) {
			const v = d.v.t === 'ref' ? `e${d.v.kid}` : d.v.t === 'keyword' ? ':' + d.v.v : d.v.v;
			tx.push([':db/add', `e${e.kid}`, d.a, v]);
		}
	}
	return tx;
}

// ---------------------------------------------------------------------------
// Types of query variables:
//   'eid'                    an entity id (compared through :k/id)
//   'long' 'double' 'string' 'keyword' 'boolean'
//   'dnum'                   a computed double, maybe integral (no str, no =
//                            against longs)
//   'mixed'                  values of several types (output only)
//   'any'                    an attribute variable's value: never output
//   {tuple: [type ...]}      a tuple value
// Var info: {type, minLen (strings), attrStr (straight from an attribute)}.

const isNum = (t) => t === 'long' || t === 'double' || t === 'dnum';
const ordClass = (t) => (isNum(t) ? 'num' : t === 'string' || t === 'keyword' ? t : null);
const eqClass = (t) => (t === 'double' || t === 'dnum' ? 'dbl' : typeof t === 'string' && t !== 'any' && t !== 'mixed' && t !== 'attrv' ? t : null);
const outputtable = (t) => t !== 'any' && t !== 'attrv';

class QueryGen {
	constructor(seed, db, features) {
		this.rng = new Rng(seed);
		this.db = db;
		this.f = features;
		this.present = presentValues(db);
		this.kids = db.entities.map((e) => e.kid);
	}

	fresh(prefix) {
		this.n[prefix] = (this.n[prefix] || 0) + 1;
		return `?${prefix}${this.n[prefix]}`;
	}

	bind(name, type, extra = {}) {
		this.vars.set(name, { type, ...extra });
		return { t: 'var', v: name };
	}

	varsWhere(pred) { return [...this.vars.entries()].filter(([, info]) => pred(info)).map(([n]) => n); }

	// A constant of a value type: usually one present in the database.
	constOf(type, attr) {
		const r = this.rng;
		if (type === 'ref') return { t: 'lookup', attr: ID_ATTR, v: { t: 'long', v: r.pick(this.kids) } };
		let pool = attr && this.present[attr] && this.present[attr].length && r.chance(0.85) ? this.present[attr] : this.db.pools[type];
		if (type === 'dnum') type = 'double';
		if (!pool || pool.length === 0 || r.chance(0.05)) {
			pool = { long: [-3, 0, 7, 1000], double: [-1.5, 0.25, 99.75], string: ['nope', 'Apple', 'bee'],
				keyword: ['kw/none', 'kw/red'], boolean: [true, false] }[type];
		}
		return { t: type, v: r.pick(pool) };
	}

	gen() {
		for (let attempt = 0; attempt < 50; attempt++) {
			const q = this.tryGen();
			if (q) return q;
		}
		throw new Error('query generator: no valid query in 50 attempts');
	}

	tryGen() {
		const r = this.rng, f = this.f;
		this.vars = new Map();
		this.n = {};
		this.where = [];
		this.inputs = [];
		this.args = [];
		this.mustUse = new Set();
		this.patternEids = new Set(); // eid vars bound by a constant-attribute pattern

		if (f.inputs && r.chance(0.35)) {
			const nIn = r.chance(0.75) ? 1 : 2;
			for (let k = 0; k < nIn; k++) this.genInput();
		}
		const nPat = f.patterns ? +r.weighted({ 1: 3, 2: 4, 3: 4, 4: 2, 5: 1 }) : 0;
		const nExtra = +r.weighted({ 0: 3, 1: 4, 2: 2, 3: 1 });
		const extras = [];
		for (let k = 0; k < nExtra; k++) extras.push(r.pick(['pred', 'fn', 'fn']));
		for (let k = 0; k < nPat; k++) {
			this.genPattern(k === 0);
			if (extras.length && r.chance(0.4)) this.genExtra(extras.pop());
		}
		// Input variables nothing used yet: a pattern (or predicate) uses them.
		for (const v of [...this.mustUse]) this.useInput(v);
		while (extras.length) this.genExtra(extras.pop());
		if (this.where.length === 0) return null;
		const q = this.genFind();
		if (!q) return null;
		if (f.errors && r.chance(0.03)) this.breakQuery(q);
		return q;
	}

	genInput() {
		const r = this.rng;
		const kind = r.weighted({ scalar: 4, tuple: 2, coll: 3, rel: 2 });
		const valueAttrs = this.db.attrs.filter((a) => a.type !== 'ref');
		// Each input variable remembers the attribute its values come from,
		// and the pattern that uses it prefers that attribute: inputs then
		// mostly match something.
		const inVar = (a) => {
			const v = this.fresh('in');
			this.bind(v, a.type, { input: true, minLen: 3, attrStr: true, attr: a.name });
			this.mustUse.add(v);
			return v;
		};
		if (kind === 'tuple' || kind === 'rel') {
			const cols = [r.pick(valueAttrs), r.pick(valueAttrs)];
			const vs = cols.map(inVar);
			this.inputs.push({ kind, vars: vs });
			// rows mostly from one entity holding both attributes
			const holders = this.db.entities.filter((e) => cols.every((a) => e.datoms.some((d) => d.a === a.name)));
			const row = () => {
				if (holders.length && r.chance(0.7)) {
					const e = r.pick(holders);
					return { t: 'vec', items: cols.map((a) => r.pick(e.datoms.filter((d) => d.a === a.name)).v) };
				}
				return { t: 'vec', items: cols.map((a) => this.constOf(a.type, a.name)) };
			};
			this.args.push(kind === 'tuple' ? row() : { t: 'vec', items: Array.from({ length: r.weighted({ 0: 1, 1: 3, 2: 4, 3: 3, 4: 2 }) }, row) });
		} else {
			const a = r.pick(valueAttrs);
			const v = inVar(a);
			this.inputs.push({ kind, vars: [v] });
			if (kind === 'scalar') this.args.push(this.constOf(a.type, a.name));
			else this.args.push({ t: 'vec', items: Array.from({ length: +r.weighted({ 0: 1, 1: 3, 2: 4, 3: 3, 5: 2 }) }, () => this.constOf(a.type, a.name)) });
		}
	}

	useInput(v) {
		const r = this.rng;
		const { type: t, attr } = this.vars.get(v);
		const attrs = this.db.attrs.filter((a) => a.type === t);
		const eids = this.varsWhere((i) => i.type === 'eid');
		if (attrs.length && (r.chance(0.8) || !this.f.preds)) {
			const a = attr && r.chance(0.8) ? this.db.attrs.find((x) => x.name === attr) : r.pick(attrs);
			const e = eids.length && r.chance(0.5) ? { t: 'var', v: r.pick(eids) } : this.bind(this.fresh('e'), 'eid');
			if (e.v) this.patternEids.add(e.v);
			this.where.push({ t: 'pat', e, a: { t: 'attr', v: a.name }, v: { t: 'var', v } });
		} else {
			const ordOk = ordClass(t) === 'num' || (ordClass(t) && this.f.textOrder);
			const op = ordOk ? r.pick(['<', '>', '<=', '>=', '=', 'not=']) : r.pick(['=', 'not=']);
			this.where.push({ t: 'pred', fn: op, args: [{ t: 'var', v }, this.constOf(t)] });
		}
		this.mustUse.delete(v);
	}

	genPattern(first) {
		const r = this.rng, f = this.f;
		const eids = this.varsWhere((i) => i.type === 'eid');
		const boundEids = eids.filter((v) => this.patternEids.has(v));
		if (f.attrVars && !first && boundEids.length && r.chance(0.07)) {
			// [?e _ ...] / [?e ?a ...]: ?e is bound by a constant-attribute
			// pattern, so only user datoms match (no schema or tx datoms).
			const e = { t: 'var', v: r.pick(boundEids) };
			const a = r.chance(0.5) ? { t: 'blank' } : this.bind(this.fresh('a'), 'attrv');
			const vk = r.weighted({ blank: 2, var: 2, omit: 1 });
			const pat = { t: 'pat', e, a };
			if (vk === 'blank') pat.v = { t: 'blank' };
			else if (vk === 'var') pat.v = this.bind(this.fresh('any'), 'any');
			this.where.push(pat);
			return;
		}
		const nEnt = this.db.entities.length;
		const mustJoin = f.joins && !first && this.vars.size > 0 && !r.chance(nEnt <= 60 ? 0.06 : nEnt <= 200 ? 0.02 : 0);
		const pendingAttrs = [...this.mustUse].map((v) => this.vars.get(v).attr).filter(Boolean);
		for (let attempt = 0; attempt < 10; attempt++) {
			const want = pendingAttrs.length && r.chance(0.6) ? r.pick(pendingAttrs) : null;
			const attr = want ? this.db.attrs.find((a) => a.name === want)
				: r.chance(0.12) ? this.db.attrs[0] : r.pick(this.db.attrs.slice(1));
			const vtype = attr.type === 'ref' ? 'eid' : attr.type;
			// join candidates for the value: same exact type (no dnum: a
			// computed double never equals a stored one, but keep it simple)
			// (on big databases (--entities), value joins other than on
			// entities and inputs could square the rows: DataScript runs out of memory)
			const big = this.db.entities.length > 300;
			const vJoin = this.varsWhere((i) => i.type === vtype && !(vtype === 'double' && i.derived) && (!big || vtype === 'eid' || i.input));
			const inputJoin = vJoin.filter((v) => this.mustUse.has(v));
			let eKind, vKind;
			if (first) eKind = r.weighted({ new: 17, blank: 2, lookup: f.lookupRefs ? 1 : 0 });
			else eKind = r.weighted({ join: eids.length ? 12 : 0, new: 6, blank: 1.5, lookup: f.lookupRefs ? 0.6 : 0 });
			vKind = r.weighted({
				join: vJoin.length ? (inputJoin.length ? 14 : 5) : 0, new: 9,
				const: attr.type === 'ref' && !f.lookupRefs ? 0 : 3, blank: 2, omit: 1,
			});
			if (mustJoin && eKind !== 'join' && vKind !== 'join') {
				if (eids.length && r.chance(0.6)) eKind = 'join';
				else if (vJoin.length) vKind = 'join';
				else if (eids.length) eKind = 'join';
				else continue; // try another attribute
			}
			let e;
			if (eKind === 'join') e = { t: 'var', v: r.pick(eids) };
			else if (eKind === 'new') e = this.bind(this.fresh('e'), 'eid');
			else if (eKind === 'blank') e = { t: 'blank' };
			else e = { t: 'lookup', attr: ID_ATTR, v: { t: 'long', v: r.pick(this.kids) } };
			if (e.t === 'var') this.patternEids.add(e.v);
			const pat = { t: 'pat', e, a: { t: 'attr', v: attr.name } };
			// Never one variable twice in a pattern ([?e :ref ?e]): DataScript
			// 1.8.1 ignores the repeat and matches every datom (README).
			const vJoin2 = vJoin.filter((v) => v !== e.v), inputJoin2 = inputJoin.filter((v) => v !== e.v);
			if (vKind === 'join' && !vJoin2.length) vKind = 'new';
			if (vKind === 'join') {
				const v = inputJoin2.length && r.chance(0.8) ? r.pick(inputJoin2) : r.pick(vJoin2);
				this.mustUse.delete(v);
				pat.v = { t: 'var', v };
			} else if (vKind === 'new') {
				pat.v = this.bind(this.fresh(vtype === 'eid' ? 'e' : 'x'), vtype, { minLen: 3, attrStr: true });
				if (vtype === 'eid') this.patternEids.add(pat.v.v);
			} else if (vKind === 'const') pat.v = this.constOf(attr.type, attr.name);
			else if (vKind === 'blank') pat.v = { t: 'blank' };
			if (f.explicitSrc && r.chance(0.05)) pat.src = true;
			this.where.push(pat);
			return;
		}
	}

	// A variable of cands not yet in used (then added to it), or null.
	// (DataScript 1.8.1 wrongly reports "Insufficient bindings" when a
	// function clause names one variable more times than its relation has
	// columns, so a clause never repeats a variable.)
	pickUnused(cands, used) {
		const left = cands.filter((v) => !used.has(v));
		if (!left.length) return null;
		const v = this.rng.pick(left);
		used.add(v);
		return v;
	}

	genExtra(kind) {
		if (kind === 'pred' && this.f.preds) this.genPred();
		else if (kind === 'fn' && this.f.fns) this.genFn();
	}

	genPred() {
		const r = this.rng;
		const ord = r.chance(0.6);
		if (ord) {
			const cands = this.varsWhere((i) => ordClass(i.type) && (this.f.textOrder || ordClass(i.type) === 'num'));
			if (!cands.length) return;
			const v = r.pick(cands);
			const cls = ordClass(this.vars.get(v).type);
			const peers = this.varsWhere((i) => ordClass(i.type) === cls);
			const used = new Set([v]);
			const other = () => {
				const w = r.chance(0.35) ? this.pickUnused(peers, used) : null;
				return w ? { t: 'var', v: w } : this.constOf(cls === 'num' ? r.pick(['long', 'double']) : cls);
			};
			const args = [{ t: 'var', v }, other()];
			if (r.chance(0.15)) args.push(other());
			this.where.push({ t: 'pred', fn: r.pick(['<', '>', '<=', '>=']), args: r.shuffle(args) });
		} else {
			const cands = this.varsWhere((i) => eqClass(i.type));
			if (!cands.length) return;
			const v = r.pick(cands);
			const t = this.vars.get(v).type, cls = eqClass(t);
			const peers = this.varsWhere((i) => eqClass(i.type) === cls).filter((n) => n !== v);
			const used = new Set([v]);
			const other = () => {
				const w = t === 'eid' || r.chance(0.3) ? this.pickUnused(peers, used) : null;
				return w ? { t: 'var', v: w } : this.constOf(t === 'dnum' ? 'double' : t);
			};
			if (t === 'eid' && peers.length < 1) return;
			const args = [{ t: 'var', v }, other()];
			if (r.chance(0.1) && (t !== 'eid' || peers.length > 1)) args.push(other());
			this.where.push({ t: 'pred', fn: r.pick(['=', 'not=']), args: r.shuffle(args) });
		}
	}

	genFn() {
		const r = this.rng;
		const numVars = this.varsWhere((i) => isNum(i.type));
		const strVars = this.varsWhere((i) => i.type === 'string');
		const subsVars = this.varsWhere((i) => i.type === 'string' && i.minLen >= 2);
		const strable = this.varsWhere((i) => ['long', 'double', 'string', 'keyword', 'boolean'].includes(i.type) && !i.derived);
		const tupVars = this.varsWhere((i) => typeof i.type === 'object');
		const eids = this.varsWhere((i) => i.type === 'eid');
		const plain = this.varsWhere((i) => outputtable(i.type));
		const oneAttrs = this.db.attrs.filter((a) => !a.many && a.type !== 'ref' && !a.unique);
		const kind = r.weighted({
			arith: numVars.length ? 5 : 0, str: strable.length ? 2 : 0, subs: subsVars.length ? 2 : 0,
			count: strVars.length || tupVars.length ? 1.5 : 0, ground: 2, identity: plain.length ? 1.5 : 0,
			getElse: eids.length && oneAttrs.length ? 2 : 0, missing: eids.length ? 1.5 : 0,
			tuple: plain.length ? 1.5 : 0, untuple: tupVars.length ? 3 : 0,
		});
		const V = (v) => ({ t: 'var', v });
		switch (kind) {
		case 'arith': {
			const fn = r.pick(['+', '-', '*']);
			const n = fn === '-' ? r.int(1, 3) : r.int(2, 3);
			const used = new Set();
			const args = [V(this.pickUnused(numVars, used))];
			while (args.length < n) {
				const w = r.chance(0.4) ? this.pickUnused(numVars, used) : null;
				args.push(w ? V(w) : this.constOf(r.chance(0.8) ? 'long' : 'double'));
			}
			const allLong = args.every((a) => a.t === 'long' || (a.t === 'var' && this.vars.get(a.v).type === 'long'));
			const out = this.bind(this.fresh('r'), allLong ? 'long' : 'dnum', { derived: true });
			this.where.push({ t: 'fn', fn, args: r.shuffle(args), bind: { kind: 'scalar', vars: [out.v] } });
			break;
		}
		case 'str': {
			const args = [];
			let minLen = 0;
			const used = new Set();
			for (let k = r.int(1, 3); k > 0; k--) {
				const v = r.chance(0.7) ? this.pickUnused(strable, used) : null;
				if (v) {
					args.push(V(v));
					const i = this.vars.get(v);
					minLen += i.type === 'string' ? i.minLen || 0 : 1;
				} else {
					const c = this.constOf('string');
					args.push(c);
					minLen += c.v.length;
				}
			}
			const out = this.bind(this.fresh('r'), 'string', { minLen, derived: true });
			this.where.push({ t: 'fn', fn: 'str', args, bind: { kind: 'scalar', vars: [out.v] } });
			break;
		}
		case 'subs': {
			const v = r.pick(subsVars);
			const len = this.vars.get(v).minLen;
			const a = r.int(0, Math.min(2, len));
			const args = [V(v), { t: 'long', v: a }];
			let minLen = len - a;
			if (r.chance(0.5)) {
				const b = r.int(a, len);
				args.push({ t: 'long', v: b });
				minLen = b - a;
			}
			const out = this.bind(this.fresh('r'), 'string', { minLen, derived: true });
			this.where.push({ t: 'fn', fn: 'subs', args, bind: { kind: 'scalar', vars: [out.v] } });
			break;
		}
		case 'count': {
			const v = r.pick([...strVars, ...tupVars]);
			const out = this.bind(this.fresh('r'), 'long', { derived: true });
			this.where.push({ t: 'fn', fn: 'count', args: [V(v)], bind: { kind: 'scalar', vars: [out.v] } });
			break;
		}
		case 'ground': {
			const types = ['long', 'double', 'string', 'keyword', 'boolean'];
			const form = r.weighted({ scalar: 3, coll: 3, tuple: 1, rel: 2 });
			if (form === 'scalar') {
				const t = r.pick(types);
				const out = this.bind(this.fresh('g'), t, { minLen: 0 });
				this.where.push({ t: 'fn', fn: 'ground', args: [this.constOf(t)], bind: { kind: 'scalar', vars: [out.v] } });
			} else if (form === 'coll') {
				const t = r.pick(types);
				const out = this.bind(this.fresh('g'), t, { minLen: 0 });
				const items = Array.from({ length: r.int(1, 4) }, () => this.constOf(t));
				this.where.push({ t: 'fn', fn: 'ground', args: [{ t: 'vec', items }], bind: { kind: 'coll', vars: [out.v] } });
			} else {
				const ts = [r.pick(types), r.pick(types)];
				const outs = ts.map((t) => this.bind(this.fresh('g'), t, { minLen: 0 }).v);
				const row = () => ({ t: 'vec', items: ts.map((t) => this.constOf(t)) });
				const arg = form === 'tuple' ? row() : { t: 'vec', items: Array.from({ length: r.int(1, 3) }, row) };
				this.where.push({ t: 'fn', fn: 'ground', args: [arg], bind: { kind: form, vars: outs } });
			}
			break;
		}
		case 'identity': {
			const v = r.pick(plain);
			const info = this.vars.get(v);
			if (typeof info.type === 'object' && r.chance(0.6)) {
				const els = info.type.tuple;
				if (r.chance(0.5)) {
					// elements of one type keep it; mixed ones are output only,
					// unless an entity id is among them (it could not be mapped)
					// (nor strings with keywords: (str :kw/a) equals :kw/a in
					// DataScript, where keywords are strings)
					const same = els.every((t) => t === els[0]);
					const clash = els.includes('eid') || (els.includes('string') && els.includes('keyword'));
					const out = this.bind(this.fresh('r'), same ? els[0] : clash ? 'any' : 'mixed', { minLen: 0 });
					this.where.push({ t: 'fn', fn: 'identity', args: [V(v)], bind: { kind: 'coll', vars: [out.v] } });
				} else {
					this.pushUntuple('identity', v, els);
				}
			} else {
				const out = this.bind(this.fresh('r'), info.type, { ...info, input: false });
				this.where.push({ t: 'fn', fn: 'identity', args: [V(v)], bind: { kind: 'scalar', vars: [out.v] } });
			}
			break;
		}
		case 'getElse': {
			const a = r.pick(oneAttrs);
			const sameType = r.chance(0.85);
			const dflt = this.constOf(sameType ? a.type : r.pick(['long', 'string', 'keyword']));
			const out = this.bind(this.fresh('r'), dflt.t === a.type ? a.type : 'mixed', { minLen: dflt.t === 'string' ? Math.min(3, dflt.v.length) : 0 });
			this.where.push({ t: 'fn', fn: 'get-else', args: [{ t: 'src', v: '$' }, V(r.pick(eids)), { t: 'attr', v: a.name }, dflt], bind: { kind: 'scalar', vars: [out.v] } });
			break;
		}
		case 'missing': {
			const a = r.pick(this.db.attrs.slice(1));
			this.where.push({ t: 'pred', fn: 'missing?', args: [{ t: 'src', v: '$' }, V(r.pick(eids)), { t: 'attr', v: a.name }] });
			break;
		}
		case 'tuple': {
			const used = new Set();
			const args = Array.from({ length: r.int(2, 3) }, () => {
				const w = r.chance(0.8) ? this.pickUnused(plain, used) : null;
				return w ? V(w) : this.constOf('long');
			});
			const els = args.map((a) => (a.t === 'var' ? this.vars.get(a.v).type : a.t));
			if (els.some((t) => typeof t === 'object')) return; // no nested tuples
			const out = this.bind(this.fresh('t'), { tuple: els });
			this.where.push({ t: 'fn', fn: 'tuple', args, bind: { kind: 'scalar', vars: [out.v] } });
			if (r.chance(0.3)) this.pushUntuple(r.chance(0.7) ? 'untuple' : 'identity', out.v, els);
			break;
		}
		case 'untuple': {
			const v = r.pick(tupVars);
			this.pushUntuple('untuple', v, this.vars.get(v).type.tuple);
			break;
		}
		}
	}

	// [(fn ?t) [?a ?b]] binding a tuple's elements (some as _).
	pushUntuple(fn, v, els) {
		const r = this.rng;
		const vars = els.map((t, k) => (k > 0 && r.chance(0.15) ? '_' : this.bind(this.fresh('u'), t, { minLen: 0 }).v));
		this.where.push({ t: 'fn', fn, args: [{ t: 'var', v }], bind: { kind: 'tuple', vars } });
	}

	genFind() {
		const r = this.rng, f = this.f;
		const outVars = this.varsWhere((i) => outputtable(i.type));
		if (!outVars.length) return null;
		const spec = f.findSpecs ? r.weighted({ rel: 12, scalar: 3, coll: 3, tuple: 3 }) : 'rel';
		const useAgg = f.aggregates && r.chance(0.33);
		const find = [];
		let withVars = [];
		if (useAgg) {
			const nGroup = spec === 'scalar' || spec === 'coll' ? 0 : +r.weighted({ 0: 3, 1: 4, 2: 2 });
			const nAgg = spec === 'scalar' || spec === 'coll' ? 1 : r.chance(0.7) ? 1 : 2;
			const groups = r.sample(outVars, nGroup);
			for (const g of groups) find.push({ t: 'var', v: g });
			const aggVars = outVars.filter((v) => !groups.includes(v));
			if (!aggVars.length) return null;
			for (let k = 0; k < nAgg; k++) {
				const a = this.genAgg(aggVars);
				if (a) find.push(a);
			}
			if (find.length === groups.length) return null;
			const inFind = new Set(find.map((x) => x.v || x.arg));
			const withCands = outVars.filter((v) => !inFind.has(v));
			if (withCands.length && r.chance(0.35)) withVars = r.sample(withCands, r.int(1, 2));
		} else {
			const n = spec === 'scalar' || spec === 'coll' ? 1 : +r.weighted({ 1: 3, 2: 4, 3: 2 });
			for (const v of r.sample(outVars, n)) find.push({ t: 'var', v });
			// :with without aggregates: the answer is a bag (repeats kept)
			const withCands = outVars.filter((v) => !find.some((x) => x.v === v));
			if (f.aggregates && spec === 'rel' && withCands.length && r.chance(0.06)) withVars = [r.pick(withCands)];
		}
		let keys = null, keysKind = 'keys';
		if (f.keys && spec === 'rel' && r.chance(0.15)) {
			keys = find.map((_, k) => 'abcdefgh'[k]);
			keysKind = r.weighted({ keys: 4, strs: 1, syms: 1 });
		}
		const types = {};
		for (const [n, info] of this.vars) types[n] = info.type;
		const explicitIn = this.inputs.length > 0 || !this.where.some((c) => c.t === 'pat') || r.chance(0.3);
		return {
			find, spec, keys, keysKind, with: withVars, inputs: this.inputs, args: this.args,
			explicitIn, where: this.where, form: f.mapForm && r.chance(0.2) ? 'map' : 'vec',
			expectError: null, types,
		};
	}

	genAgg(outVars) {
		const r = this.rng;
		const ty = (v) => this.vars.get(v).type;
		const nums = outVars.filter((v) => isNum(ty(v)));
		const ords = outVars.filter((v) => isNum(ty(v)) || ty(v) === 'string' || ty(v) === 'keyword' || ty(v) === 'boolean');
		const fn = r.weighted({
			count: 3, 'count-distinct': 2, distinct: 1.5,
			sum: nums.length ? 2 : 0, avg: nums.length ? 1.5 : 0, median: nums.length ? 1 : 0,
			variance: nums.length ? 1 : 0, stddev: nums.length ? 1 : 0,
			min: ords.length ? 2 : 0, max: ords.length ? 2 : 0, 'min-n': ords.length ? 1 : 0, 'max-n': ords.length ? 1 : 0,
		});
		if (fn === 'count' || fn === 'count-distinct' || fn === 'distinct') return { t: 'agg', fn, arg: r.pick(outVars) };
		if (fn === 'min-n' || fn === 'max-n') return { t: 'agg', fn: fn.slice(0, 3), n: r.int(1, 3), arg: r.pick(ords) };
		if (fn === 'min' || fn === 'max') return { t: 'agg', fn, arg: r.pick(ords) };
		return { t: 'agg', fn, arg: r.pick(nums) };
	}

	// Makes q one both systems must reject.
	breakQuery(q) {
		const r = this.rng;
		const fns = q.where.filter((c) => c.t === 'fn' || c.t === 'pred');
		if (fns.length && r.chance(0.5)) {
			r.pick(fns).fn = 'no-such-fn';
			q.expectError = 'unknown function';
		} else {
			q.find = [...q.find, { t: 'var', v: '?unbound' }];
			if (q.spec === 'scalar' || q.spec === 'coll') q.spec = 'rel';
			if (q.keys) q.keys = q.find.map((_, k) => 'abcdefgh'[k]);
			q.expectError = 'unbound find variable';
		}
	}
}

function genQuery(seed, db, features = FEATURES) {
	return new QueryGen(seed, db, features).gen();
}

// ---------------------------------------------------------------------------
// Rendering a query for either system (dialect 'dl' or 'ds').

function renderFindElem(x) {
	if (x.t === 'var') return x.v;
	return x.n !== undefined ? `(${x.fn} ${x.n} ${x.arg})` : `(${x.fn} ${x.arg})`;
}

function renderFindSpec(q) {
	const els = q.find.map(renderFindElem);
	switch (q.spec) {
	case 'rel': return els;
	case 'scalar': return [`${els[0]} .`];
	case 'coll': return [`[${els[0]} ...]`];
	case 'tuple': return [`[${els.join(' ')}]`];
	default: throw new Error(`spec ${q.spec}`);
	}
}

function renderBinding(b) {
	switch (b.kind) {
	case 'scalar': return b.vars[0];
	case 'tuple': return `[${b.vars.join(' ')}]`;
	case 'coll': return `[${b.vars[0]} ...]`;
	case 'rel': return `[[${b.vars.join(' ')}]]`;
	default: throw new Error(`binding ${b.kind}`);
	}
}

function renderClause(c, d) {
	switch (c.t) {
	case 'pat': return `[${c.src ? '$ ' : ''}${[c.e, c.a, c.v].filter(Boolean).map((x) => render(x, d)).join(' ')}]`;
	case 'pred': return `[(${[c.fn, ...c.args.map((x) => render(x, d))].join(' ')})]`;
	case 'fn': return `[(${[c.fn, ...c.args.map((x) => render(x, d))].join(' ')}) ${renderBinding(c.bind)}]`;
	default: throw new Error(`clause ${c.t}`);
	}
}

function renderQuery(q, d) {
	const find = renderFindSpec(q);
	const explicitIn = q.explicitIn || q.inputs.length > 0 || !q.where.some((c) => c.t === 'pat');
	const ins = explicitIn ? ['$', ...q.inputs.map(renderBinding)] : null;
	const where = q.where.map((c) => renderClause(c, d));
	if (q.form === 'map') {
		const parts = [`:find [${find.join(' ')}]`];
		if (q.keys) parts.push(`:${q.keysKind || 'keys'} [${q.keys.join(' ')}]`);
		if (q.with.length) parts.push(`:with [${q.with.join(' ')}]`);
		if (ins) parts.push(`:in [${ins.join(' ')}]`);
		parts.push(`:where [${where.join(' ')}]`);
		return `{${parts.join(' ')}}`;
	}
	const parts = [':find', ...find];
	if (q.keys) parts.push(`:${q.keysKind || 'keys'}`, ...q.keys);
	if (q.with.length) parts.push(':with', ...q.with);
	if (ins) parts.push(':in', ...ins);
	parts.push(':where', ...where);
	return `[${parts.join(' ')}]`;
}

// The query as a relation (same clauses and find elements, :find ?a ?b):
// what a scalar or tuple answer must be one row of.
function asRelation(q) {
	return { ...q, spec: 'rel', keys: null };
}

// ---------------------------------------------------------------------------
// Checks a (shrunk) query: every function argument bound before its clause,
// every find and :with variable bound, :with apart from :find.

function checkQuery(q) {
	const bound = new Set();
	for (const inp of q.inputs) for (const v of inp.vars) bound.add(v);
	const need = (t) => t.t !== 'var' || bound.has(t.v);
	for (const c of q.where) {
		if (c.t === 'pat') {
			for (const t of [c.e, c.a, c.v]) if (t && t.t === 'var') bound.add(t.v);
		} else {
			if (!c.args.every(need)) return false;
			if (c.t === 'fn') for (const v of c.bind.vars) if (v !== '_') bound.add(v);
		}
	}
	if (q.find.length === 0 || q.where.length === 0) return false;
	const findVars = q.find.map((x) => x.v || x.arg);
	if (!q.expectError && !findVars.every((v) => bound.has(v))) return false;
	if (!q.with.every((v) => bound.has(v) && !findVars.includes(v))) return false;
	if (q.keys && q.keys.length !== q.find.length) return false;
	if ((q.spec === 'scalar' || q.spec === 'coll') && q.find.length !== 1) return false;
	// plain find variables once each, and none also aggregated
	const plainVars = q.find.filter((x) => x.t === 'var').map((x) => x.v);
	if (new Set(plainVars).size !== plainVars.length) return false;
	if (q.find.some((x) => x.t === 'agg' && plainVars.includes(x.arg))) return false;
	// Input variables nothing uses would make the answer a cross product
	// with the input; legal, but not what the case was about.
	return true;
}

module.exports = {
	FEATURES, ID_ATTR, genDb, genQuery, txEdn, dsSchema, dsTx, renderQuery, asRelation, checkQuery,
	presentValues, isNum,
};
