'use strict';
// not / not-join, or / or-join (with and branches), rules (the % input) and
// rule calls: their generators (mixed into gen.js's QueryGen), their
// rendering in both spellings, and the binding rules a query (or a shrunk
// one) must keep.
//
// Clause shapes, besides gen.js's pat / pred / fn:
//   {t:'not', join: null | [var ...], clauses: [clause ...]}
//   {t:'or', join: null | {req: [var ...], vars: [var ...]}, branches: [[clause ...] ...]}
//   {t:'call', name, args: [term ...]}          (a rule call)
// Rules (q.rules): [{name, params: [{v, type, req}], bodies: [[clause ...] ...]}],
// required parameters first (Datomic's head (r [?a] ?b)).
//
// The generators keep to what datalite (Datomic) and DataScript 1.8.1 agree
// on (README.md, "Known differences"):
//   - a not shares at least one variable bound before it; a not-join's join
//     variables are bound before it and used in its body; local variables
//     of a not, not-join or or-join appear nowhere else in the query;
//   - every branch of an or uses exactly the same variables (also those of a
//     not nested in it: no local ones there, DataScript counts them), and
//     binds the new ones; an or-join branch binds every join variable and
//     its required ones are bound before it;
//   - a rule body binds every head variable and mentions every one (the
//     required ones are bound when the body starts); values computed by
//     functions (+ - * str subs count) never flow into rule heads or rule
//     calls (bottom-up evaluation then always terminates); no call of a rule
//     of the same recursive component inside a not (stratification);
//   - calls pass required arguments bound (DataScript ignores the
//     requirement: it sees the head without brackets), never a lookup ref
//     and never one variable twice; a recursive call never comes first in a
//     body (DataScript's top-down solver loops, tonsky/datascript#277);
//   - in a rule body, a not, not-join or or-join's required variables are
//     bound by a pattern, function or call, not only by an or: when the
//     clauses before it match nothing, DataScript leaves the or's
//     variables unbound and then rejects the not ("Insufficient bindings");
//   - a body never calls one rule twice with the same arguments: DataScript
//     takes the second call for a recursion and drops the body;
//   - no constant argument to a rule whose bodies (or the rules they call)
//     hold a not or an or or bind a head variable with a function, and no
//     _ argument: DataScript substitutes them into the body and fails
//     ("Insufficient bindings: #{7} not bound in (not-join [7] ...)",
//     "none of #{} is bound in (not [_ :a/x _])", "Cannot parse binding"
//     for [(ground 2.5) 7]).

const JOINABLE = (t) => typeof t === 'string' && !['any', 'attrv', 'mixed', 'dnum'].includes(t);
const RULE_NAMES = ['reach', 'link', 'path', 'near', 'sel', 'pick', 'has', 'tagged'];

// ---------------------------------------------------------------------------
// Walking clauses

// Every clause list inside clauses (bodies of not, branches of or), with
// the list itself first: [{list, owner}] where owner is the clause or null.
function* clauseLists(list, owner = null) {
	yield { list, owner };
	for (const c of list) {
		if (c.t === 'not') yield* clauseLists(c.clauses, c);
		else if (c.t === 'or') for (const br of c.branches) yield* clauseLists(br, c);
	}
}

function* allClauses(list) {
	for (const { list: l } of clauseLists(list)) yield* l;
}

function termVars(t, out) {
	if (!t) return out;
	if (t.t === 'var') out.add(t.v);
	else if (t.t === 'vec') t.items.forEach((x) => termVars(x, out));
	return out;
}

// The variables a clause names (nested clauses too).
function clauseVars(c, out = new Set()) {
	switch (c.t) {
	case 'pat': [c.e, c.a, c.v].forEach((t) => termVars(t, out)); break;
	case 'pred': c.args.forEach((t) => termVars(t, out)); break;
	case 'fn': c.args.forEach((t) => termVars(t, out)); c.bind.vars.forEach((v) => v !== '_' && out.add(v)); break;
	case 'call': c.args.forEach((t) => termVars(t, out)); break;
	case 'not':
		if (c.join) c.join.forEach((v) => out.add(v));
		c.clauses.forEach((x) => clauseVars(x, out));
		break;
	case 'or':
		if (c.join) [...c.join.req, ...c.join.vars].forEach((v) => out.add(v));
		c.branches.forEach((br) => br.forEach((x) => clauseVars(x, out)));
		break;
	default: throw new Error(`clause ${c.t}`);
	}
	return out;
}

function listVars(list, out = new Set()) {
	list.forEach((c) => clauseVars(c, out));
	return out;
}

// The attribute names and other terms in clauses (for pruning attributes).
function clauseTerms(c, out = []) {
	switch (c.t) {
	case 'pat': out.push(c.e, c.a, c.v); break;
	case 'pred': case 'fn': case 'call': out.push(...c.args); break;
	case 'not': c.clauses.forEach((x) => clauseTerms(x, out)); break;
	case 'or': c.branches.forEach((br) => br.forEach((x) => clauseTerms(x, out))); break;
	default: break;
	}
	return out.filter(Boolean);
}

// Rules called from a clause list (nested too): [{name, neg}].
function callsIn(list, neg = false, out = []) {
	for (const c of list) {
		if (c.t === 'call') out.push({ name: c.name, neg });
		else if (c.t === 'not') callsIn(c.clauses, true, out);
		else if (c.t === 'or') c.branches.forEach((br) => callsIn(br, neg, out));
	}
	return out;
}

// ---------------------------------------------------------------------------
// Rendering

function renderLogic(c, d, renderClause) {
	const body = (cs) => cs.map((x) => renderClause(x, d)).join(' ');
	switch (c.t) {
	case 'not':
		return c.join ? `(not-join [${c.join.join(' ')}] ${body(c.clauses)})` : `(not ${body(c.clauses)})`;
	case 'or': {
		const br = c.branches.map((b) => (b.length === 1 ? renderClause(b[0], d) : `(and ${body(b)})`)).join(' ');
		if (!c.join) return `(or ${br})`;
		const req = c.join.req.length ? [`[${c.join.req.join(' ')}]`] : [];
		return `(or-join [${[...req, ...c.join.vars].join(' ')}] ${br})`;
	}
	case 'call': {
		const { render } = require('./edn');
		return `(${[c.name, ...c.args.map((x) => render(x, d))].join(' ')})`;
	}
	default: throw new Error(`clause ${c.t}`);
	}
}

// The rules vector (the % input).  DataScript 1.8.1 mishandles required
// variables in a head ((r [?a] ?b) matches as if ?a were unbound and not
// joined), so its spelling has none: calls always bind them anyway.
function renderRules(rules, d, renderClause) {
	const out = [];
	for (const rule of rules) {
		const req = rule.params.filter((p) => p.req).map((p) => p.v);
		const rest = rule.params.filter((p) => !p.req).map((p) => p.v);
		const head = d === 'ds' || !req.length ? [...req, ...rest] : [`[${req.join(' ')}]`, ...rest];
		for (const b of rule.bodies) out.push(`[(${[rule.name, ...head].join(' ')}) ${b.map((x) => renderClause(x, d)).join(' ')}]`);
	}
	return `[${out.join(' ')}]`;
}

// ---------------------------------------------------------------------------
// Binding checks (generated and shrunk queries)

// Checks clauses in order from the bound set b; returns the bound set after
// them, or null when they break a binding rule.  ctx: {rules}
function checkList(list, b, ctx) {
	let cur = new Set(b);
	for (let i = 0; i < list.length; i++) {
		cur = checkClause(list[i], cur, ctx, list, i);
		if (!cur) return null;
	}
	return cur;
}

function checkClause(c, b, ctx, list, i) {
	const need = (t) => t.t !== 'var' || b.has(t.v);
	// variables only this clause names, unbound before it: they must not
	// appear in the rest of the enclosing list (local to the clause)
	const localsOk = (locals) => {
		if (!locals.size) return true;
		const others = new Set();
		list.forEach((x, k) => k !== i && clauseVars(x, others));
		if (ctx.outside) ctx.outside.forEach((v) => others.add(v));
		return ![...locals].some((v) => others.has(v));
	};
	switch (c.t) {
	case 'pat': {
		const out = new Set(b);
		[c.e, c.a, c.v].forEach((t) => termVars(t, out));
		return out;
	}
	case 'pred': return c.args.every(need) ? b : null;
	case 'fn': {
		if (!c.args.every(need)) return null;
		const out = new Set(b);
		c.bind.vars.forEach((v) => v !== '_' && out.add(v));
		return out;
	}
	case 'call': {
		const rule = ctx.rules && ctx.rules.find((r) => r.name === c.name);
		if (!rule || rule.params.length !== c.args.length) return null;
		const seen = new Set();
		for (const [k, p] of rule.params.entries()) {
			const a = c.args[k];
			if (p.req && (a.t === 'blank' || (a.t === 'var' && !b.has(a.v)))) return null;
			if (a.t === 'var') {
				if (seen.has(a.v)) return null;
				seen.add(a.v);
			}
		}
		const out = new Set(b);
		c.args.forEach((t) => termVars(t, out));
		return out;
	}
	case 'not': {
		if (!c.clauses.length) return null;
		const vs = listVars(c.clauses);
		let scope;
		if (c.join) {
			if (!c.join.length || !c.join.every((v) => b.has(v) && vs.has(v))) return null;
			// no outer variable but the join ones (it would be a local of the same name)
			if ([...vs].some((v) => b.has(v) && !c.join.includes(v))) return null;
			scope = new Set(c.join);
		} else {
			if (![...vs].some((v) => b.has(v))) return null;
			scope = b;
		}
		if (!localsOk(new Set([...vs].filter((v) => !scope.has(v))))) return null;
		return checkList(c.clauses, scope, ctx) ? b : null;
	}
	case 'or': {
		if (!c.branches.length || c.branches.some((br) => !br.length)) return null;
		if (c.join) {
			const jv = [...c.join.req, ...c.join.vars];
			if (!jv.length || new Set(jv).size !== jv.length) return null;
			if (!c.join.req.every((v) => b.has(v))) return null;
			const scope = new Set(jv.filter((v) => b.has(v)));
			const locals = new Set();
			for (const br of c.branches) {
				const m = listVars(br);
				if (!jv.every((v) => m.has(v))) return null;
				if ([...m].some((v) => b.has(v) && !jv.includes(v))) return null;
				m.forEach((v) => !jv.includes(v) && locals.add(v));
				const after = checkList(br, scope, ctx);
				if (!after || !jv.every((v) => after.has(v))) return null;
			}
			if (!localsOk(locals)) return null;
			return new Set([...b, ...jv]);
		}
		const sets = c.branches.map((br) => listVars(br));
		const key = (s) => [...s].sort().join(' ');
		if (!sets.every((s) => key(s) === key(sets[0]))) return null;
		for (const br of c.branches) {
			// (a not inside a branch: only the branch's variables)
			for (const x of allClauses(br)) if (x.t === 'or' && x.join) return null;
			const after = checkList(br, b, ctx);
			if (!after || ![...sets[0]].every((v) => after.has(v))) return null;
		}
		return new Set([...b, ...sets[0]]);
	}
	default: return null;
	}
}

// Strongly connected components of the rule call graph: name -> component id.
function ruleComponents(rules) {
	const edges = new Map(rules.map((r) => [r.name, new Set(r.bodies.flatMap((b) => callsIn(b).map((x) => x.name)))]));
	const reach = (from) => {
		const seen = new Set([from]), stack = [from];
		while (stack.length) for (const n of edges.get(stack.pop()) || []) if (!seen.has(n)) { seen.add(n); stack.push(n); }
		return seen;
	};
	const R = new Map(rules.map((r) => [r.name, reach(r.name)]));
	const comp = new Map();
	for (const r of rules) {
		const same = rules.filter((s) => R.get(r.name).has(s.name) && R.get(s.name).has(r.name)).map((s) => s.name).sort();
		comp.set(r.name, same.join(','));
	}
	return { comp, R };
}

// Rules whose bodies, or the rules they call, hold a not or an or, or bind
// a head variable with a function, get noConst: calls pass them no
// constants (DataScript substitutes the constant into the body: (not-join
// [7] ...), (not [7 :a]), [(ground 2.5) 7] then fail).
function markNoConst(rules) {
	for (const r of rules) {
		const ps = new Set(r.params.map((p) => p.v));
		r.noConst = r.bodies.some((b) => [...allClauses(b)].some((c) => c.t === 'not' || c.t === 'or' ||
			(c.t === 'fn' && c.bind.vars.some((v) => ps.has(v)))));
	}
	for (let changed = true; changed;) {
		changed = false;
		for (const r of rules) {
			if (r.noConst) continue;
			const called = r.bodies.flatMap((b) => callsIn(b).map((x) => x.name));
			if (rules.some((s) => s.noConst && called.includes(s.name))) r.noConst = changed = true;
		}
	}
}

// DataScript, in a rule body, leaves an or's variables unbound when the
// clauses before it match nothing, and then rejects a not, not-join or
// or-join needing them: their bound variables must come from patterns,
// functions or calls ("solid" ones; req: the head's required variables).
function solidOk(list, solid) {
	const s = new Set(solid);
	for (const c of list) {
		if (c.t === 'pat' || c.t === 'fn' || c.t === 'call') clauseVars(c, s);
		else if (c.t === 'not') {
			if (c.join) {
				if (!c.join.every((v) => s.has(v)) || !solidOk(c.clauses, new Set(c.join))) return false;
			} else if (![...listVars(c.clauses)].some((v) => s.has(v)) || !solidOk(c.clauses, s)) return false;
		} else if (c.t === 'or') {
			if (c.join) {
				if (!c.join.req.every((v) => s.has(v))) return false;
				const inner = new Set([...c.join.req, ...c.join.vars].filter((v) => s.has(v)));
				if (!c.branches.every((br) => solidOk(br, inner))) return false;
			} else if (!c.branches.every((br) => solidOk(br, s))) return false;
		}
	}
	return true;
}

function sameArgs(xs, ys) {
	return xs.length === ys.length && xs.every((x, i) => JSON.stringify(x) === JSON.stringify(ys[i]));
}

// Checks a rule set (and the calls in where, the query's clauses).
function checkRules(rules, where = []) {
	if (!rules) return true;
	const names = new Set();
	for (const rule of rules) {
		if (names.has(rule.name) || !rule.bodies.length) return false;
		names.add(rule.name);
		const ps = rule.params.map((p) => p.v);
		if (!ps.length || new Set(ps).size !== ps.length) return false;
		for (const body of rule.bodies) {
			if (!body.length) return false;
			const after = checkList(body, new Set(rule.params.filter((p) => p.req).map((p) => p.v)), { rules, outside: new Set(ps) });
			if (!after || !ps.every((v) => after.has(v))) return false;
			const m = listVars(body);
			if (!ps.every((v) => m.has(v))) return false;
			if (!solidOk(body, rule.params.filter((p) => p.req).map((p) => p.v))) return false;
			// one call twice in a body: DataScript's recursion guard drops the
			// body ((r2 ?a) (r1 ?a) (r1 ?a) matches nothing there)
			const calls = body.filter((c) => c.t === 'call');
			if (calls.some((c, i) => calls.slice(0, i).some((d) => d.name === c.name && sameArgs(d.args, c.args)))) return false;
			// a recursive call never first (DataScript loops)
			if (body[0].t === 'call' || (body[0].t === 'or')) {
				const firstCalls = callsIn([body[0]]).map((x) => x.name);
				const { comp } = ruleComponents(rules);
				if (firstCalls.some((n) => comp.get(n) === comp.get(rule.name))) return false;
			}
		}
	}
	// stratified: no call inside a not within one recursive component
	const { comp } = ruleComponents(rules);
	for (const rule of rules) {
		for (const b of rule.bodies) {
			for (const x of callsIn(b)) {
				if (!names.has(x.name)) return false;
				if (x.neg && comp.get(x.name) === comp.get(rule.name)) return false;
			}
		}
	}
	// no constants for rules with a not-join or or-join (markNoConst)
	const copy = rules.map((r) => ({ ...r }));
	markNoConst(copy);
	const noConst = new Set(copy.filter((r) => r.noConst).map((r) => r.name));
	const constCall = (list) => [...allClauses(list)].some((c) => c.t === 'call' &&
		(c.args.some((a) => a.t === 'blank') || (noConst.has(c.name) && c.args.some((a) => a.t !== 'var'))));
	if (rules.some((r) => r.bodies.some(constCall)) || constCall(where)) return false;
	return true;
}

// ---------------------------------------------------------------------------
// Generators, mixed into QueryGen.  They use its state: this.vars (bound
// variables and their types), this.where (the clause list being built),
// this.pending (variables a rule head or an or-join must bind; patterns and
// calls bind them instead of fresh ones), this.depth (nesting).

const methods = {
	// Runs fn with a fresh clause list and the given visible variables;
	// returns the clauses and what they bound.  Restores the outer state.
	scope(vars, fn, pending = new Map()) {
		const saved = {
			vars: this.vars, where: this.where, mustUse: this.mustUse, patternEids: this.patternEids,
			pending: this.pending, depth: this.depth, forceJoin: this.forceJoin, inRule: this.inRule,
		};
		this.vars = new Map(vars);
		this.where = [];
		this.mustUse = new Set();
		this.patternEids = new Set([...saved.patternEids].filter((v) => this.vars.has(v)));
		this.pending = pending;
		this.depth = (saved.depth || 0) + 1;
		this.forceJoin = true;
		try {
			fn();
			return { clauses: this.where, vars: this.vars, pending: this.pending };
		} finally {
			Object.assign(this, saved);
		}
	},

	// A new variable for a pattern or call to bind: a pending one of this
	// type when there is one (mostly), else a fresh one.
	bindNew(prefix, type, extra = {}) {
		if (this.pending && this.pending.size) {
			const cands = [...this.pending.entries()].filter(([, i]) => i.type === type).map(([n]) => n);
			if (cands.length && this.rng.chance(0.75)) {
				const n = this.rng.pick(cands);
				const info = this.pending.get(n);
				this.pending.delete(n);
				return this.bind(n, type, { ...extra, ...info });
			}
		}
		return this.bind(this.fresh(prefix), type, extra);
	},

	attrsOfType(type) {
		return this.db.attrs.filter((a) => (type === 'eid' ? a.type === 'ref' : a.type === type));
	},

	// The types a new variable (or a rule parameter) may have: those some
	// attribute holds.
	varTypes() {
		const ts = new Set(this.db.attrs.map((a) => (a.type === 'ref' ? 'eid' : a.type)));
		ts.add('eid');
		return [...ts];
	},

	// n clauses in the current scope (a body of not, or-join, a rule).
	genBody(n, ctx = {}) {
		const r = this.rng, f = this.f;
		const deep = this.depth >= 2;
		for (let k = 0; k < n; k++) {
			const hasVars = this.vars.size > 0;
			const calls = this.callableRules(ctx);
			const w = k === 0 && !ctx.predFirst
				? { pat: 8, not: f.not && hasVars && !deep ? 0.6 : 0, or: f.or && !deep ? 0.6 : 0, call: calls.length ? 2 : 0 }
				: { pat: 4, pred: f.preds && hasVars ? 2.5 : 0, fn: f.fns && hasVars && !ctx.noFns ? 1 : 0,
					not: f.not && hasVars && !deep ? 0.8 : 0, or: f.or && !deep ? 0.7 : 0, call: calls.length ? 2 : 0 };
			switch (r.weighted(w)) {
			case 'pat': this.genPattern(this.vars.size === 0); break;
			case 'pred': this.genPred(); break;
			case 'fn': this.genFn(); break;
			case 'not': this.genNot(ctx); break;
			case 'or': this.genOr(ctx); break;
			case 'call': this.genCall(ctx); break;
			}
		}
	},

	// A clause binding variable n (pending) of type t.
	bindVar(n, t) {
		const r = this.rng;
		const eids = this.varsWhere((i) => i.type === 'eid');
		if (t === 'eid') {
			const refs = this.attrsOfType('eid');
			if (refs.length && eids.length && r.chance(0.8)) {
				const a = r.pick(refs);
				const other = { t: 'var', v: r.pick(eids) };
				this.where.push(r.chance(0.6)
					? { t: 'pat', e: other, a: { t: 'attr', v: a.name }, v: { t: 'var', v: n } }
					: { t: 'pat', e: { t: 'var', v: n }, a: { t: 'attr', v: a.name }, v: other });
			} else {
				const a = r.chance(0.2) ? this.db.attrs[0] : r.pick(this.db.attrs);
				const pat = { t: 'pat', e: { t: 'var', v: n }, a: { t: 'attr', v: a.name } };
				const vk = r.weighted({ blank: 3, const: 2, omit: 1 });
				if (vk === 'blank') pat.v = { t: 'blank' };
				else if (vk === 'const') pat.v = this.constOf(a.type, a.name);
				this.where.push(pat);
			}
			this.bind(n, 'eid');
		} else {
			const attrs = this.attrsOfType(t);
			if (!attrs.length || r.chance(0.1)) {
				this.where.push({ t: 'fn', fn: 'ground', args: [this.constOf(t)], bind: { kind: 'scalar', vars: [n] } });
			} else {
				// (mostly an entity the clauses have: [_ :a ?n] next to
				// other such patterns is a cross product)
				const a = r.pick(attrs);
				const e = eids.length && r.chance(0.9) ? { t: 'var', v: r.pick(eids) } : { t: 'blank' };
				this.where.push({ t: 'pat', e, a: { t: 'attr', v: a.name }, v: { t: 'var', v: n } });
			}
			this.bind(n, t, { minLen: 0 });
		}
	},

	// A clause naming the bound variable v (which the clause list must use).
	mentionVar(v) {
		const r = this.rng;
		const t = this.vars.get(v).type;
		if (t === 'eid') {
			const a = r.chance(0.2) ? this.db.attrs[0] : r.pick(this.db.attrs);
			const pat = { t: 'pat', e: { t: 'var', v }, a: { t: 'attr', v: a.name } };
			const vk = r.weighted({ blank: 2, const: 3, omit: 1 });
			if (vk === 'blank') pat.v = { t: 'blank' };
			else if (vk === 'const') pat.v = this.constOf(a.type, a.name);
			this.where.push(pat);
			return;
		}
		const ord = t === 'long' || t === 'double' || ((t === 'string' || t === 'keyword') && this.f.textOrder);
		const attrs = this.attrsOfType(t);
		if (attrs.length && r.chance(0.4)) {
			this.where.push({ t: 'pat', e: { t: 'blank' }, a: { t: 'attr', v: r.pick(attrs).name }, v: { t: 'var', v } });
		} else {
			const op = ord ? r.pick(['<', '>', '<=', '>=', '=', 'not=', 'not=']) : r.pick(['=', 'not=', 'not=']);
			const c = this.constOf(t === 'long' && r.chance(0.3) ? 'double' : t);
			this.where.push({ t: 'pred', fn: op, args: r.shuffle([{ t: 'var', v }, c]) });
		}
	},

	// (not ...) or (not-join [...] ...): at least one variable bound outside.
	genNot(ctx = {}) {
		const r = this.rng;
		const solid = this.varsWhere((i) => JOINABLE(i.type) && !(this.inRule && i.orBound)); // (solidOk)
		if (!solid.length) return false;
		const join = r.chance(0.35);
		let scopeVars = this.vars;
		if (join) scopeVars = new Map(r.sample(solid, Math.min(solid.length, r.int(1, 2))).map((v) => [v, this.vars.get(v)]));
		const visible = new Set([...scopeVars.keys()].filter((v) => JOINABLE(scopeVars.get(v).type)));
		const { clauses } = this.scope(scopeVars, () => {
			const n = +r.weighted({ 1: 5, 2: 4, 3: 1 });
			this.genBody(n, { ...ctx, predFirst: r.chance(0.1) });
		});
		if (!clauses.length) return false;
		const used = [...listVars(clauses)].filter((v) => visible.has(v));
		if (!used.some((v) => solid.includes(v))) return false;
		this.where.push({ t: 'not', join: join ? used : null, clauses });
		return true;
	},

	genOr(ctx = {}) {
		const r = this.rng;
		const ok = r.chance(0.5) ? this.genOrPlain(ctx) : this.genOrJoin(ctx);
		// now and then a second or right after, over value variables the
		// first one bound (issue 5's shape)
		if (ok && this.depth < 2 && this.orBoundValues().length && r.chance(0.25)) {
			if (r.chance(0.5)) this.genOrPlain(ctx, true);
			else this.genOrJoin(ctx, true);
		}
		return ok;
	},

	// New variables an or binds: [{name, type}]
	newOrVars(max) {
		const r = this.rng;
		const n = +r.weighted({ 0: 3, 1: 4, 2: max >= 2 ? 1.5 : 0 });
		return Array.from({ length: n }, () => {
			const type = r.pick(this.varTypes());
			return { name: this.fresh(type === 'eid' ? 'e' : 'o'), type };
		});
	},

	// (or b1 b2 ...): every branch names exactly the variables V (some
	// bound before, the new ones bound by every branch), nothing else.
	genOrPlain(ctx = {}, force = false) {
		const r = this.rng;
		const outer = this.varsWhere((i) => JOINABLE(i.type));
		const after = this.afterOr(force);
		const shared = after ? after : outer.length ? r.sample(outer, Math.min(outer.length, +r.weighted({ 1: 5, 2: 2 }))) : [];
		const fresh = after ? [] : this.newOrVars(2);
		if (!shared.length && !fresh.length) fresh.push({ name: this.fresh('e'), type: 'eid' });
		const nb = +r.weighted(after ? { 1: 2, 2: 3 } : { 2: 6, 3: 3, 1: 0.5 });
		const branches = [];
		for (let k = 0; k < nb; k++) {
			const { clauses } = this.scope(new Map(shared.map((v) => [v, this.vars.get(v)])), () => this.orBranch(shared, fresh, ctx));
			branches.push(clauses);
		}
		this.where.push({ t: 'or', join: null, branches });
		for (const nv of fresh) this.bind(nv.name, nv.type, { minLen: 0, orBound: true });
		return true;
	},

	// (not in rule bodies: there DataScript leaves an or's variables unbound
	// when the clauses before it match nothing, and then rejects a
	// predicate on them; README, "or in rule bodies")
	orBoundValues() {
		if (this.inRule) return [];
		return this.varsWhere((i) => i.orBound && i.type !== 'eid' && JOINABLE(i.type));
	},

	// Sometimes (when an earlier or bound a value variable) an or over only
	// such variables, so its branches often just filter on them: it binds
	// nothing, and has to wait for the or that binds them (issue 5).
	// Returns the shared variables, or null.
	afterOr(force = false) {
		const cands = this.orBoundValues();
		if (!cands.length || !(force || this.rng.chance(0.35))) return null;
		return this.rng.sample(cands, Math.min(cands.length, +this.rng.weighted({ 1: 4, 2: 1 })));
	},

	// One branch of a plain or, in a scope holding the shared variables.
	orBranch(shared, fresh, ctx) {
		const r = this.rng;
		for (const nv of r.shuffle(fresh.slice())) this.bindVar(nv.name, nv.type);
		const all = [...shared, ...fresh.map((x) => x.name)];
		const named = () => listVars(this.where);
		for (const v of r.shuffle(all.slice())) if (!named().has(v)) this.mentionVar(v);
		// more conditions over the same variables
		for (let k = +r.weighted({ 0: 3, 1: 3, 2: 1 }); k > 0; k--) {
			const kind = r.weighted({ mention: 4, not: this.f.not && this.depth < 3 ? 1 : 0, call: this.callableRules(ctx).length ? 1 : 0 });
			if (kind === 'mention') this.mentionVar(r.pick(all));
			else if (kind === 'not') {
				// a not naming only the branch's variables
				const { clauses } = this.scope(this.vars, () => this.mentionVar(r.pick(all)));
				this.where.push({ t: 'not', join: null, clauses });
			} else this.genCall({ ...ctx, onlyBound: true });
		}
	},

	// (or-join [[?req] ?a ?b] ...): branches may have local variables.
	genOrJoin(ctx = {}, force = false) {
		const r = this.rng;
		const outer = this.varsWhere((i) => JOINABLE(i.type));
		const after = this.afterOr(force);
		// (with an entity variable too: [?e :a _] [(> ?x 5)] in a branch)
		const eids = after ? this.varsWhere((i) => i.type === 'eid' && JOINABLE(i.type)) : [];
		const shared = after ? [...after, ...(eids.length && r.chance(0.5) ? [r.pick(eids)] : [])]
			: outer.length ? r.sample(outer, Math.min(outer.length, +r.weighted({ 0: 1, 1: 5, 2: 2 }))) : [];
		const fresh = after ? [] : this.newOrVars(1);
		if (!shared.length && !fresh.length) fresh.push({ name: this.fresh('e'), type: 'eid' });
		const req = shared.filter((v) => !(this.inRule && this.vars.get(v).orBound) && r.chance(0.3));
		const nb = +r.weighted(after ? { 1: 2, 2: 3 } : { 2: 6, 3: 3, 1: 0.5 });
		const branches = [];
		for (let k = 0; k < nb; k++) {
			const pending = new Map(fresh.map((x) => [x.name, { type: x.type }]));
			const { clauses } = this.scope(new Map(shared.map((v) => [v, this.vars.get(v)])), () => {
				this.genBody(+r.weighted({ 1: 5, 2: 4, 3: 1 }), ctx);
				for (const [n, info] of [...this.pending]) {
					this.pending.delete(n);
					this.bindVar(n, info.type);
				}
				const named = listVars(this.where);
				for (const v of shared) if (!named.has(v)) this.mentionVar(v);
			}, pending);
			branches.push(clauses);
		}
		this.where.push({ t: 'or', join: { req, vars: [...shared.filter((v) => !req.includes(v)), ...fresh.map((x) => x.name)] }, branches });
		for (const nv of fresh) this.bind(nv.name, nv.type, { minLen: 0, orBound: true });
		return true;
	},

	// Rules that may be called here: at query level any; in a rule's body,
	// the rules generated before its group (its own group's recursion comes
	// from the templates), so no call through not is ever recursive.
	callableRules(ctx) {
		if (!this.rules) return [];
		if (!ctx.rule) return this.rules;
		return this.rules.filter((x) => x.group < ctx.rule.group);
	},

	// (rule arg ...): required arguments bound; others bound, fresh, _ or a
	// constant.
	genCall(ctx = {}) {
		const r = this.rng;
		const cands = this.callableRules(ctx);
		if (!cands.length) return false;
		const rule = r.pick(cands);
		const used = new Set();
		const kinds = [];
		for (const p of rule.params) {
			const bound = this.varsWhere((i) => i.type === p.type && !i.derived && JOINABLE(i.type)).filter((v) => !used.has(v));
			const canConst = p.type !== 'eid' && !rule.noConst;
			// (no _ argument: DataScript substitutes it into the body, where
			// (not [?p :a]) becomes (not [_ :a]) and fails)
			const w = p.req || ctx.onlyBound
				? { join: bound.length ? 4 : 0, const: canConst ? 1 : 0 }
				: { join: bound.length ? 4 : 0, fresh: 3, const: canConst ? 0.7 : 0 };
			if (!Object.values(w).some((x) => x > 0)) return false;
			const kind = r.weighted(w);
			if (kind === 'join') {
				const v = r.pick(bound);
				used.add(v);
				kinds.push({ t: 'var', v });
			} else if (kind === 'const') kinds.push(this.constOf(p.type));
			else if (kind === 'blank') kinds.push({ t: 'blank' });
			else kinds.push({ fresh: p.type });
		}
		// inside bodies, a call joins something (else it is a cross product
		// DataScript's solver may not finish)
		if ((ctx.rule || this.depth > 0) && !kinds.some((k) => k.t === 'var')) return false;
		// (the same call twice in one body: DataScript's recursion guard
		// takes the second for a recursion and drops the body, see checkRules)
		if (!kinds.some((k) => k.fresh) && this.where.some((c) => c.t === 'call' && c.name === rule.name && sameArgs(c.args, kinds))) return false;
		// (fresh variables bound only once the call is sure)
		const args = kinds.map((k) => (k.fresh ? this.bindNew(k.fresh === 'eid' ? 'e' : 'c', k.fresh, { minLen: 0 }) : k));
		this.where.push({ t: 'call', name: rule.name, args });
		return true;
	},

	// 1-3 rules, 1-3 bodies each: transitive closures over a ref attribute,
	// mutually recursive pairs, and random rules over earlier ones.
	genRules() {
		const r = this.rng;
		const refs = this.attrsOfType('eid');
		const nRules = +r.weighted({ 1: 4, 2: 3, 3: 2 });
		this.rules = [];
		const names = r.shuffle(RULE_NAMES.slice());
		let group = 0;
		while (this.rules.length < nRules) {
			const left = nRules - this.rules.length;
			const kind = r.weighted({ closure: refs.length ? 4 : 0, mutual: refs.length && left >= 2 ? 1.5 : 0, random: 4 });
			const mk = (params) => ({ name: `${names.pop()}${this.rules.length + 1}`, params, bodies: [], idx: this.rules.length, group });
			if (kind === 'closure') {
				const rule = mk([{ v: '?p1', type: 'eid', req: r.chance(0.25) }, { v: '?p2', type: 'eid', req: false }]);
				this.rules.push(rule);
				this.genClosureBodies(rule, refs);
			} else if (kind === 'mutual') {
				const a = mk([{ v: '?p1', type: 'eid', req: false }, { v: '?p2', type: 'eid', req: false }]);
				this.rules.push(a);
				const b = mk([{ v: '?p1', type: 'eid', req: false }, { v: '?p2', type: 'eid', req: false }]);
				this.rules.push(b);
				this.genMutualBodies(a, b, refs);
			} else {
				const types = this.varTypes();
				const n = +r.weighted({ 1: 3, 2: 4, 3: 2 });
				const params = Array.from({ length: n }, (_, k) => ({ v: `?p${k + 1}`, type: r.chance(0.5) ? 'eid' : r.pick(types), req: false }));
				if (r.chance(0.25)) params[0].req = true;
				const rule = mk(params);
				this.rules.push(rule);
				const nb = +r.weighted({ 1: 4, 2: 3, 3: 1 });
				for (let k = 0; k < nb; k++) rule.bodies.push(this.genRuleBody(rule));
			}
			markNoConst(this.rules);
			group++;
		}
		return checkRules(this.rules);
	},

	// A body for rule: its required parameters bound, the others pending.
	// recursive: a recursive body gets at most one filtering clause that
	// binds nothing new (DataScript's solver keeps every variable of every
	// expansion level: new ones multiply its rows at each level).
	genRuleBody(rule, { prefix = [], recursive = false } = {}) {
		const r = this.rng;
		const req = new Map(rule.params.filter((p) => p.req).map((p) => [p.v, { type: p.type, minLen: 0 }]));
		const pending = new Map(rule.params.filter((p) => !p.req).map((p) => [p.v, { type: p.type, minLen: 0 }]));
		const { clauses } = this.scope(req, () => {
			this.inRule = true;
			const ctx = { rule };
			for (const c of prefix) {
				this.where.push(c);
				for (const v of clauseVars(c)) {
					if (this.pending.has(v)) {
						const info = this.pending.get(v);
						this.pending.delete(v);
						this.bind(v, info.type, { minLen: 0 });
					} else if (!this.vars.has(v)) {
						this.bind(v, 'eid');
					}
				}
			}
			if (recursive) {
				const vs = this.varsWhere((i) => JOINABLE(i.type));
				if (r.chance(0.4)) {
					const v = r.pick(vs);
					if (!this.f.not || r.chance(0.6)) this.mentionVar(v);
					else this.where.push({ t: 'not', join: null, clauses: this.scope(this.vars, () => this.mentionVar(v)).clauses });
				}
			} else {
				this.genBody(prefix.length ? +r.weighted({ 0: 4, 1: 3, 2: 1 }) : +r.weighted({ 1: 4, 2: 4, 3: 2 }), { ...ctx, predFirst: prefix.length > 0 });
			}
			for (const [n, info] of [...this.pending]) {
				this.pending.delete(n);
				this.bindVar(n, info.type);
			}
			const named = listVars(this.where);
			for (const v of req.keys()) if (!named.has(v)) this.mentionVar(v);
		}, pending);
		return clauses;
	},

	// (reach ?a ?b): [?a :R ?b], and [?a :R ?x] (reach ?x ?b) (right
	// recursion); sometimes a second base through another attribute, the
	// reverse direction, and extra conditions (not, or, predicates, calls
	// of earlier rules).
	genClosureBodies(rule, refs) {
		const r = this.rng;
		const R = this.recAttr(refs);
		const V = (v) => ({ t: 'var', v });
		const A = (a) => ({ t: 'attr', v: a });
		const pat = (e, a, v) => ({ t: 'pat', e: V(e), a: A(a), v: V(v) });
		const call = (a, b) => ({ t: 'call', name: rule.name, args: [V(a), V(b)] });
		const reverse = r.chance(0.25);
		const edge = (a, b) => (reverse ? pat(b, R, a) : pat(a, R, b));
		rule.bodies.push(this.genRuleBody(rule, { prefix: [edge('?p1', '?p2')] }));
		if (r.chance(0.2)) {
			const R2 = r.pick(refs).name;
			rule.bodies.push(this.genRuleBody(rule, { prefix: [pat('?p1', R2, '?p2')] }));
		}
		// (right recursion only: [?a :R ?x] (reach ?x ?y) [?y :R ?b] never
		// ends in DataScript on a cycle, its guards cannot prune ?y)
		const x = this.fresh('e');
		const rec = [edge('?p1', x), call(x, '?p2')];
		rule.bodies.push(this.genRuleBody(rule, { prefix: rec, recursive: true }));
		if (r.chance(0.5)) rule.bodies.reverse(); // the order of bodies does not matter
	},

	// The ref attribute a recursion follows: mostly a cardinality-one one
	// (DataScript's solver enumerates paths: over cardinality-many refs
	// their number explodes and it does not finish).
	recAttr(refs) {
		const one = refs.filter((a) => !a.many);
		const manyOk = this.db.entities.length <= 40;
		return (one.length && (!manyOk || one.length === refs.length || this.rng.chance(0.8)) ? this.rng.pick(one) : this.rng.pick(refs)).name;
	},

	// Mutual recursion: (odd ?a ?b) [?a :R ?b] / [?a :R ?x] (even ?x ?b);
	// (even ?a ?b) [?a :R ?x] (odd ?x ?b).
	genMutualBodies(a, b, refs) {
		const r = this.rng;
		const V = (v) => ({ t: 'var', v });
		const R = this.recAttr(refs), R2 = r.chance(0.7) ? R : this.recAttr(refs);
		const pat = (e, at, v) => ({ t: 'pat', e: V(e), a: { t: 'attr', v: at }, v: V(v) });
		const call = (rule, x, y) => ({ t: 'call', name: rule.name, args: [V(x), V(y)] });
		a.bodies.push(this.genRuleBody(a, { prefix: [pat('?p1', R, '?p2')] }));
		const x = this.fresh('e');
		a.bodies.push(this.genRuleBody(a, { prefix: [pat('?p1', R, x), call(b, x, '?p2')], recursive: true }));
		const y = this.fresh('e');
		b.bodies.push(this.genRuleBody(b, { prefix: [pat('?p1', R2, y), call(a, y, '?p2')], recursive: true }));
		if (r.chance(0.3)) b.bodies.push(this.genRuleBody(b, { prefix: [pat('?p1', R2, '?p2')] }));
	},
};

function install(proto) {
	Object.assign(proto, methods);
}

module.exports = {
	install, renderLogic, renderRules, checkList, checkRules, clauseVars, listVars, clauseLists, allClauses,
	clauseTerms, callsIn, ruleComponents, JOINABLE,
};
