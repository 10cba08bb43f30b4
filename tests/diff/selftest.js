#!/usr/bin/env node
'use strict';
// Tests of the harness itself, with no datalite: canonicalization and
// comparison on hand-made answers, both spellings of a query, the EDN
// reader, the generators' determinism and the shrinker.  run.sh runs it
// before the differential run.  Prints one line per failure and a closing
// "N passed, N failed" line.

const assert = require('assert');
const { compareAnswers, canonAnswer } = require('./lib/compare');
const gen = require('./lib/gen');
const { readAll, Kw, Num, EMap, render } = require('./lib/edn');
const { Rng, derive } = require('./lib/rng');
const { shrink } = require('./lib/shrink');
const { DsDb, limits } = require('./lib/datascript');

let passed = 0, failed = 0;
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

// A query skeleton: find elements over variables of the given types.
function Q(spec, find, types, extra = {}) {
	return { find, spec, keys: null, with: [], inputs: [], args: [], explicitIn: false, where: [], form: 'vec', expectError: null, types, ...extra };
}
const V = (v) => ({ t: 'var', v });
const A = (fn, arg, n) => (n === undefined ? { t: 'agg', fn, arg } : { t: 'agg', fn, n, arg });
const ok = (value) => ({ ok: true, value });
const err = (error) => ({ ok: false, error });
const noIds = new Map();
const cmpOk = (q, dl, ds, rel) => compareAnswers(q, dl, ds, rel || null, noIds, noIds);

test('relations compare as sets of rows, in any order', () => {
	const q = Q('rel', [V('?x'), V('?s')], { '?x': 'long', '?s': 'string' });
	assert.ok(cmpOk(q, ok([[1, 'a'], [2, 'b']]), ok([[2, 'b'], [1, 'a']])).ok);
	const r = cmpOk(q, ok([[1, 'a']]), ok([[2, 'b'], [1, 'a']]));
	assert.ok(!r.ok && r.category === 'mismatch' && /missing 1/.test(r.reason), r.reason);
	const x = cmpOk(q, ok([[1, 'a'], [3, 'c']]), ok([[1, 'a']]));
	assert.ok(!x.ok && /extra 1/.test(x.reason), x.reason);
});

test('a repeated row is a difference (relations are sets)', () => {
	const q = Q('rel', [V('?x')], { '?x': 'long' });
	const r = cmpOk(q, ok([[1], [1]]), ok([[1]]));
	assert.ok(!r.ok && /multiplicity/.test(r.reason), r.reason);
});

test('ints equal doubles of the same value; other numbers differ', () => {
	const q = Q('rel', [V('?x')], { '?x': 'dnum' });
	assert.ok(cmpOk(q, ok([[5]]), ok([[5.0]])).ok);
	assert.ok(!cmpOk(q, ok([[5]]), ok([[5.000001]])).ok);
});

test('avg, variance, stddev and median compare within a tolerance', () => {
	const q = Q('rel', [V('?g'), A('avg', '?x'), A('stddev', '?x')], { '?g': 'string', '?x': 'double' });
	assert.ok(cmpOk(q, ok([['a', 2.5, 1.118033988749895], ['b', 1 / 3, 0]]), ok([['b', 0.3333333333333333, 0], ['a', 2.5000000000000004, 1.1180339887498951]])).ok);
	assert.ok(!cmpOk(q, ok([['a', 2.5, 1.2]]), ok([['a', 2.5, 1.118033988749895]])).ok);
	// exact columns stay exact
	const c = Q('rel', [A('count', '?x')], { '?x': 'double' });
	assert.ok(!cmpOk(c, ok([[3]]), ok([[3.0000000001]])).ok);
});

test('entity ids compare through each side\'s :k/id map', () => {
	const q = Q('rel', [V('?e'), V('?x')], { '?e': 'eid', '?x': 'long' });
	const dlIds = new Map([[1001, 7], [1002, 8]]), dsIds = new Map([[1, 8], [2, 7]]);
	assert.ok(compareAnswers(q, ok([[1001, 5], [1002, 6]]), ok([[2, 5], [1, 6]]), null, dlIds, dsIds).ok);
	assert.ok(!compareAnswers(q, ok([[1001, 6], [1002, 5]]), ok([[2, 5], [1, 6]]), null, dlIds, dsIds).ok);
	// an id the map does not know never equals anything
	assert.ok(!compareAnswers(q, ok([[9999, 5]]), ok([[2, 5]]), null, dlIds, dsIds).ok);
	// inside tuples and distinct sets too
	const t = Q('rel', [V('?t'), A('distinct', '?e')], { '?t': { tuple: ['eid', 'long'] }, '?e': 'eid' });
	assert.ok(compareAnswers(t, ok([[[1001, 3], [1002, 1001]]]), ok([[[2, 3], [2, 1]]]), null, dlIds, dsIds).ok);
});

test(':keys rows are objects; keys may carry a colon', () => {
	const q = Q('rel', [V('?x'), V('?y')], { '?x': 'long', '?y': 'keyword' }, { keys: ['a', 'b'] });
	assert.ok(cmpOk(q, ok([{ ':a': 1, ':b': ':kw/red' }]), ok([{ a: 1, b: ':kw/red' }])).ok);
	assert.ok(cmpOk(q, ok([{ a: 1, b: ':kw/red' }]), ok([{ a: 1, b: ':kw/red' }])).ok);
	const r = cmpOk(q, ok([{ a: 1, c: ':kw/red' }]), ok([{ a: 1, b: ':kw/red' }]));
	assert.ok(!r.ok && r.category === 'bad-output', r.reason);
	const s = cmpOk(q, ok([[1, ':kw/red']]), ok([{ a: 1, b: ':kw/red' }]));
	assert.ok(!s.ok && s.category === 'bad-output');
});

test('collections compare as sets; distinct is a set; (min n) a sorted bag', () => {
	const q = Q('coll', [V('?x')], { '?x': 'string' });
	assert.ok(cmpOk(q, ok(['b', 'a']), ok(['a', 'b'])).ok);
	assert.ok(!cmpOk(q, ok(['b']), ok(['a', 'b'])).ok);
	const d = Q('rel', [A('distinct', '?x'), A('max', '?y', 2)], { '?x': 'long', '?y': 'long' });
	assert.ok(cmpOk(d, ok([[[3, 1, 2], [9, 7]]]), ok([[[1, 2, 3], [7, 9]]])).ok);
	assert.ok(!cmpOk(d, ok([[[3, 1], [9, 7]]]), ok([[[1, 2, 3], [7, 9]]])).ok);
});

test('scalar and tuple answers: any row of the relation, nil iff none', () => {
	const q = Q('scalar', [V('?x')], { '?x': 'long' });
	const rel = ok([[1], [2], [3]]);
	assert.ok(cmpOk(q, ok(2), ok(1), rel).ok);
	assert.ok(!cmpOk(q, ok(4), ok(1), rel).ok);
	assert.ok(!cmpOk(q, ok(null), ok(1), rel).ok);
	assert.ok(cmpOk(q, ok(null), ok(null), ok([])).ok);
	assert.ok(!cmpOk(q, ok(1), ok(null), ok([])).ok);
	const t = Q('tuple', [V('?x'), V('?y')], { '?x': 'long', '?y': 'string' });
	assert.ok(cmpOk(t, ok([2, 'b']), ok([1, 'a']), ok([[1, 'a'], [2, 'b']])).ok);
	assert.ok(!cmpOk(t, ok([2, 'a']), ok([1, 'a']), ok([[1, 'a'], [2, 'b']])).ok);
	assert.ok(cmpOk(t, ok(null), ok(null), ok([])).ok);
	const bad = cmpOk(t, ok([2]), ok([1, 'a']), ok([[1, 'a']]));
	assert.ok(!bad.ok && bad.category === 'bad-output');
});

test('errors: both failing passes, one failing does not', () => {
	const q = Q('rel', [V('?x')], { '?x': 'long' });
	assert.ok(cmpOk(q, err('x'), err('y')).ok);
	assert.strictEqual(cmpOk(q, err('x'), ok([])).category, 'dl-error');
	assert.strictEqual(cmpOk(q, ok([]), err('y')).category, 'ds-error');
});

test('a query in both spellings', () => {
	const q = {
		find: [V('?e'), A('count', '?k')], spec: 'rel', keys: ['a', 'b'], with: ['?n'],
		inputs: [{ kind: 'coll', vars: ['?k'] }], args: [{ t: 'vec', items: [{ t: 'keyword', v: 'kw/red' }] }],
		explicitIn: true, form: 'vec', expectError: null, types: {},
		where: [
			{ t: 'pat', e: V('?e'), a: { t: 'attr', v: 'a/kw1' }, v: V('?k') },
			{ t: 'pat', e: V('?e'), a: { t: 'attr', v: 'a/ref2' }, v: { t: 'lookup', attr: 'k/id', v: { t: 'long', v: 3 } } },
			{ t: 'fn', fn: 'get-else', args: [{ t: 'src', v: '$' }, V('?e'), { t: 'attr', v: 'a/dbl3' }, { t: 'double', v: 2 }], bind: { kind: 'scalar', vars: ['?n'] } },
			{ t: 'pred', fn: 'not=', args: [V('?k'), { t: 'keyword', v: 'kw/blue' }] },
		],
	};
	assert.strictEqual(gen.renderQuery(q, 'dl'),
		'[:find ?e (count ?k) :keys a b :with ?n :in $ [?k ...] :where [?e :a/kw1 ?k] [?e :a/ref2 [:k/id 3]] ' +
		'[(get-else $ ?e :a/dbl3 2.0) ?n] [(not= ?k :kw/blue)]]');
	assert.strictEqual(gen.renderQuery(q, 'ds'),
		'[:find ?e (count ?k) :keys a b :with ?n :in $ [?k ...] :where [?e "a/kw1" ?k] [?e "a/ref2" ["k/id" 3]] ' +
		'[(get-else $ ?e "a/dbl3" 2.0) ?n] [(not= ?k ":kw/blue")]]');
	assert.strictEqual(gen.renderQuery({ ...q, form: 'map', keys: null, with: [] }, 'dl'),
		'{:find [?e (count ?k)] :in [$ [?k ...]] :where [[?e :a/kw1 ?k] [?e :a/ref2 [:k/id 3]] ' +
		'[(get-else $ ?e :a/dbl3 2.0) ?n] [(not= ?k :kw/blue)]]}');
	assert.strictEqual(render({ t: 'string', v: 'a"b\\c' }, 'dl'), '"a\\"b\\\\c"');
});

test('pulled maps compare structurally, :db/id through the id maps', () => {
	const q = Q('rel', [V('?x'), { t: 'pull', v: '?e', pattern: [] }], { '?x': 'long', '?e': 'eid' });
	const dlIds = new Map([[1001, 7], [1002, 8]]), dsIds = new Map([[1, 8], [2, 7]]);
	// datalite: keywords keys with their colon, :db/id as such; DataScript:
	// attribute strings, :db/id as "id"; collections in any order
	const dl = ok([[5, { ':db/id': 1001, ':a/ref1': { ':db/id': 1002 }, ':a/str2m': ['y', 'x'], al1: 3, ':al2': ':kw/red' }],
		[6, null]]);
	const ds = ok([[6, null], [5, { id: 2, 'a/ref1': { id: 1 }, 'a/str2m': ['x', 'y'], al1: 3, al2: ':kw/red' }]]);
	const r = compareAnswers(q, dl, ds, null, dlIds, dsIds);
	assert.ok(r.ok, r.reason);
	// another entity, another value, a missing key, an extra key: differences
	const bad = [
		{ ':db/id': 1002, ':a/ref1': { ':db/id': 1002 }, ':a/str2m': ['y', 'x'], al1: 3, ':al2': ':kw/red' },
		{ ':db/id': 1001, ':a/ref1': { ':db/id': 1001 }, ':a/str2m': ['y', 'x'], al1: 3, ':al2': ':kw/red' },
		{ ':db/id': 1001, ':a/ref1': { ':db/id': 1002 }, ':a/str2m': ['y'], al1: 3, ':al2': ':kw/red' },
		{ ':db/id': 1001, ':a/ref1': { ':db/id': 1002 }, ':a/str2m': ['y', 'x'], ':al2': ':kw/red' },
		{ ':db/id': 1001, ':a/ref1': { ':db/id': 1002 }, ':a/str2m': ['y', 'x'], al1: 3, ':al2': ':kw/red', ':a/x': 1 },
	];
	for (const m of bad) {
		const x = compareAnswers(q, ok([[5, m], [6, null]]), ds, null, dlIds, dsIds);
		assert.ok(!x.ok && x.category === 'mismatch', JSON.stringify(m));
	}
	// a pulled nil is not an empty map
	assert.ok(!compareAnswers(q, ok([[5, {}], [6, null]]), ok([[5, null], [6, null]]), null, dlIds, dsIds).ok);
	// a repeated pulled map is a repeated row
	const p = Q('rel', [{ t: 'pull', v: '?e', pattern: [] }], { '?e': 'eid' });
	assert.ok(!cmpOk(p, ok([[{ ':a/x': 1 }]]), ok([[{ 'a/x': 1 }], [{ 'a/x': 1 }]])).ok);
	assert.ok(cmpOk(p, ok([[{ ':a/x': 1 }], [{ ':a/x': 1 }]]), ok([[{ 'a/x': 1 }], [{ 'a/x': 1 }]])).ok);
});

test('not, or, rules and pull in both spellings', () => {
	const A = (a) => ({ t: 'attr', v: a });
	const pat = (e, a, v) => ({ t: 'pat', e: V(e), a: A(a), v });
	const q = {
		find: [V('?e'), { t: 'pull', v: '?e', pattern: [
			{ k: 'dbid' }, { k: 'attr', attr: 'a/str2m', rev: false, opts: [['limit', 1], ['as', { kind: 'str', v: 'al1' }]], form: 'list' },
			{ k: 'attr', attr: 'a/ref1', rev: true, opts: [], form: 'list', sub: [{ k: 'star' }] },
			{ k: 'attr', attr: 'a/ref1', rev: false, opts: [], form: 'list', sub: '...' },
			{ k: 'attr', attr: 'a/kw3', rev: false, opts: [['default', { t: 'keyword', v: 'kw/red' }]], form: 'vec' }] }],
		spec: 'rel', keys: null, with: [], inputs: [], args: [], explicitIn: false, form: 'vec', expectError: null,
		types: { '?e': 'eid' },
		rules: [{ name: 'reach1', params: [{ v: '?p1', type: 'eid', req: true }, { v: '?p2', type: 'eid', req: false }], bodies: [
			[pat('?p1', 'a/ref1', V('?p2'))],
			[pat('?p1', 'a/ref1', V('?e9')), { t: 'call', name: 'reach1', args: [V('?e9'), V('?p2')] }]] }],
		where: [
			pat('?e', 'a/kw3', { t: 'keyword', v: 'kw/red' }),
			{ t: 'not', join: null, clauses: [pat('?e', 'a/long4', { t: 'long', v: 3 })] },
			{ t: 'not', join: ['?e'], clauses: [pat('?e', 'a/ref1', V('?x')), pat('?x', 'a/long4', { t: 'blank' })] },
			{ t: 'or', join: null, branches: [[pat('?e', 'a/long4', V('?n'))], [pat('?e', 'a/long5', V('?n')), { t: 'pred', fn: '>', args: [V('?n'), { t: 'long', v: 2 }] }]] },
			{ t: 'or', join: { req: ['?e'], vars: ['?m'] }, branches: [[pat('?e', 'a/ref1', V('?m'))], [pat('?m', 'a/ref1', V('?e'))]] },
			{ t: 'call', name: 'reach1', args: [V('?e'), V('?f')] },
		],
	};
	assert.strictEqual(gen.renderQuery(q, 'dl'),
		'[:find ?e (pull ?e [:db/id (:a/str2m :limit 1 :as "al1") {:a/_ref1 [*]} {:a/ref1 ...} [:a/kw3 :default :kw/red]]) :in $ % :where ' +
		'[?e :a/kw3 :kw/red] (not [?e :a/long4 3]) (not-join [?e] [?e :a/ref1 ?x] [?x :a/long4 _]) ' +
		'(or [?e :a/long4 ?n] (and [?e :a/long5 ?n] [(> ?n 2)])) (or-join [[?e] ?m] [?e :a/ref1 ?m] [?m :a/ref1 ?e]) (reach1 ?e ?f)]');
	assert.strictEqual(gen.renderQuery(q, 'ds'),
		'[:find ?e (pull ?e [:db/id ("a/str2m" :limit 1 :as "al1") {"a/_ref1" [*]} {"a/ref1" ...} ["a/kw3" :default ":kw/red"]]) :in $ % :where ' +
		'[?e "a/kw3" ":kw/red"] (not [?e "a/long4" 3]) (not-join [?e] [?e "a/ref1" ?x] [?x "a/long4" _]) ' +
		'(or [?e "a/long4" ?n] (and [?e "a/long5" ?n] [(> ?n 2)])) (or-join [[?e] ?m] [?e "a/ref1" ?m] [?m "a/ref1" ?e]) (reach1 ?e ?f)]');
	// the head's required variables: in brackets for datalite, not for DataScript (which mishandles them)
	assert.deepStrictEqual(gen.queryArgs(q, 'dl'), ['[[(reach1 [?p1] ?p2) [?p1 :a/ref1 ?p2]] [(reach1 [?p1] ?p2) [?p1 :a/ref1 ?e9] (reach1 ?e9 ?p2)]]']);
	assert.deepStrictEqual(gen.dsArgs(q), ['[[(reach1 ?p1 ?p2) [?p1 "a/ref1" ?p2]] [(reach1 ?p1 ?p2) [?p1 "a/ref1" ?e9] (reach1 ?e9 ?p2)]]']);
	assert.ok(gen.checkQuery(q));
	assert.deepStrictEqual(gen.featuresUsed(q), ['not', 'or', 'rules', 'pull']);
});

test('binding rules of not, or and rules are checked', () => {
	const A = (a) => ({ t: 'attr', v: a });
	const pat = (e, a, v) => ({ t: 'pat', e: V(e), a: A(a), v });
	const base = Q('rel', [V('?e')], { '?e': 'eid' }, { where: [pat('?e', 'a/kw3', { t: 'blank' })] });
	const withC = (c, extra = {}) => ({ ...base, where: [...base.where, c], ...extra });
	assert.ok(gen.checkQuery(base));
	// a not sharing no bound variable; a not-join on an unbound variable
	assert.ok(gen.checkQuery(withC({ t: 'not', join: null, clauses: [pat('?e', 'a/long4', V('?x'))] })));
	assert.ok(!gen.checkQuery(withC({ t: 'not', join: null, clauses: [pat('?y', 'a/long4', V('?x'))] })));
	assert.ok(!gen.checkQuery(withC({ t: 'not', join: ['?y'], clauses: [pat('?y', 'a/long4', V('?x'))] })));
	// a local variable of a not used elsewhere
	assert.ok(!gen.checkQuery({ ...base, where: [...base.where, { t: 'not', join: null, clauses: [pat('?e', 'a/ref1', V('?x'))] }, pat('?x', 'a/long4', { t: 'blank' })] }));
	// or branches with different variables; an or-join branch not binding a join variable
	assert.ok(!gen.checkQuery(withC({ t: 'or', join: null, branches: [[pat('?e', 'a/long4', V('?x'))], [pat('?e', 'a/long5', V('?y'))]] })));
	assert.ok(gen.checkQuery(withC({ t: 'or', join: null, branches: [[pat('?e', 'a/long4', V('?x'))], [pat('?e', 'a/long5', V('?x'))]] })));
	assert.ok(!gen.checkQuery(withC({ t: 'or', join: { req: [], vars: ['?e', '?x'] }, branches: [[pat('?e', 'a/long4', V('?x'))], [pat('?e', 'a/long5', { t: 'blank' })]] })));
	assert.ok(!gen.checkQuery(withC({ t: 'or', join: { req: ['?z'], vars: [] }, branches: [[pat('?z', 'a/long4', { t: 'blank' })]] })));
	// rules: a head variable the body does not bind; a required one unbound at the call
	const rule = (bodies, req = false) => [{ name: 'r1', params: [{ v: '?p1', type: 'eid', req }, { v: '?p2', type: 'eid', req: false }], bodies }];
	const call = { t: 'call', name: 'r1', args: [V('?e'), V('?f')] };
	assert.ok(gen.checkQuery(withC(call, { rules: rule([[pat('?p1', 'a/ref1', V('?p2'))]]) })));
	assert.ok(!gen.checkQuery(withC(call, { rules: rule([[pat('?p1', 'a/ref1', V('?x'))]]) })));
	assert.ok(!gen.checkQuery({ ...base, where: [{ t: 'call', name: 'r1', args: [V('?e'), V('?f')] }, ...base.where], rules: rule([[pat('?p1', 'a/ref1', V('?p2'))]], true) }));
	// a recursive call first in a body (DataScript loops); recursion through not
	assert.ok(!gen.checkQuery(withC(call, { rules: rule([[pat('?p1', 'a/ref1', V('?p2'))], [{ t: 'call', name: 'r1', args: [V('?p1'), V('?x')] }, pat('?x', 'a/ref1', V('?p2'))]]) })));
	assert.ok(!gen.checkQuery(withC(call, { rules: rule([[pat('?p1', 'a/ref1', V('?p2')), { t: 'not', join: null, clauses: [{ t: 'call', name: 'r1', args: [V('?p2'), V('?p1')] }] }]]) })));
});

test('EDN reader: tx reports and values', () => {
	const [m] = readAll('{:tx 13194139534313 :tempids {"e1" 17592186045418, "e2" 17592186045419} :datoms 4}');
	assert.ok(m instanceof EMap);
	assert.strictEqual(m.get('tempids').entries[1][0], 'e2');
	assert.strictEqual(m.get('tempids').entries[1][1].num, 17592186045419);
	const forms = readAll('[1 2.5 -3.0 "x\\"y" :a/b nil true #{1} (f ?x) ; c\n #inst "2020-01-01T00:00:00Z" #_ skipped 1e3]');
	const v = forms[0];
	assert.ok(v[0] instanceof Num && !v[0].dbl && v[1].dbl && v[2].dbl && v[2].num === -3);
	assert.strictEqual(v[3], 'x"y');
	assert.ok(v[4] instanceof Kw && v[4].s === 'a/b');
	assert.strictEqual(v[5], null);
	assert.strictEqual(v.length, 11);
	assert.ok(v[10].dbl && v[10].num === 1000);
});

test('generators are deterministic and seeds differ', () => {
	const a = gen.genDb(derive(7, 1)), b = gen.genDb(derive(7, 1)), c = gen.genDb(derive(7, 2));
	assert.strictEqual(gen.txEdn(a), gen.txEdn(b));
	assert.notStrictEqual(gen.txEdn(a), gen.txEdn(c));
	const qa = gen.renderQuery(gen.genQuery(derive(7, 1, 3), a), 'dl');
	const qb = gen.renderQuery(gen.genQuery(derive(7, 1, 3), b), 'dl');
	assert.strictEqual(qa, qb);
	const r = new Rng(42), s = new Rng(42);
	for (let i = 0; i < 100; i++) assert.strictEqual(r.u32(), s.u32());
});

test('generated queries are valid and DataScript answers them', () => {
	let throws = 0, n = 0;
	const saved = limits.timeoutMs;
	limits.timeoutMs = 500; // (a timeout is DataScript's rule solver looping, not an invalid query)
	for (let i = 0; i < 4; i++) {
		const db = gen.genDb(derive(99, i));
		const ds = new DsDb(db);
		for (let j = 0; j < 40; j++) {
			const q = gen.genQuery(derive(99, i, j), db);
			assert.ok(gen.checkQuery(q), gen.renderQuery(q, 'dl'));
			const { res } = ds.answer(q);
			n++;
			if (!res.ok && res.timeout) continue;
			if (!res.ok && !q.expectError) {
				throws++;
				console.log(`  DataScript throws on a generated query: ${res.error}\n    ${gen.renderQuery(q, 'ds')}`);
			}
			// (DataScript looks functions up only when rows reach them)
			const empty = res.ok && (res.value === null || (Array.isArray(res.value) && res.value.length === 0));
			// (and pulls an unknown attribute as nothing)
			if (res.ok && q.expectError && q.expectError !== 'unknown pull attribute' && !empty) throw new Error(`DataScript answers a query meant to fail: ${gen.renderQuery(q, 'ds')}`);
		}
	}
	limits.timeoutMs = saved;
	assert.strictEqual(throws, 0, `${throws} of ${n} generated queries make DataScript throw`);
});

test('the shrinker finds a small case', async () => {
	// A pretend bug: an answer holding the number 7 (not an entity id).
	const db = gen.genDb(derive(5, 0), { entities: 60 });
	const has7 = (db2, q2) => {
		const ds = new DsDb(db2);
		const { res } = ds.answer(q2);
		return res.ok && JSON.stringify(canonAnswer(res.value, q2, ds.eids, 'ds')).includes('["n",7]');
	};
	let q = null;
	for (let j = 0; j < 300 && !q; j++) {
		const c = gen.genQuery(derive(5, 0, j), db);
		if (c.spec === 'rel' && c.where.length >= 3 && has7(db, c)) q = c;
	}
	assert.ok(q, 'no query hits 7');
	const check = async (db2, q2) => has7(db2, q2);
	const s = await shrink(db, q, check, { maxChecks: 2000 });
	assert.ok(await check(s.db, s.q));
	assert.ok(s.db.entities.length <= 2, `${s.db.entities.length} entities left: ${s.stats}`);
	assert.ok(s.q.where.length <= 2, `${s.q.where.length} clauses left: ${s.stats}`);
});

(async () => {
	for (const [name, fn] of tests) {
		const t0 = Date.now();
		try {
			await fn();
			passed++;
			if (process.env.SELFTEST_TIMES) console.log(`  ${name}: ${Date.now() - t0} ms`);
		} catch (e) {
			failed++;
			console.log(`FAIL selftest: ${name}: ${e.message}`);
		}
	}
	console.log(`selftest: ${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
})();
