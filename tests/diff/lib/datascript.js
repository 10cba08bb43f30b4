'use strict';
// DataScript's side: the same database built through its JS API, queries
// run with d.q(text, db, ...inputs).  A query runs under a time limit (its
// top-down rule solver can loop, tonsky/datascript#277): one that does not
// finish is {ok: false, timeout: true}, which the harness counts apart.
const path = require('path');
const vm = require('vm');

const limits = { timeoutMs: 3000 };
const runner = vm.createContext({ job: null });
const callJob = new vm.Script('job()');
const { dsSchema, dsTx, renderQuery, asRelation, dsArgs, ID_ATTR } = require('./gen');

let d = null;
function datascript() {
	if (!d) d = require(path.join(__dirname, '..', 'node_modules', 'datascript'));
	return d;
}

function version() {
	return require(path.join(__dirname, '..', 'node_modules', 'datascript', 'package.json')).version;
}

class DsDb {
	constructor(db) {
		const ds = datascript();
		const conn = ds.create_conn(dsSchema(db));
		ds.transact(conn, dsTx(db));
		this.db = ds.db(conn);
		this.eids = new Map(ds.q(`[:find ?e ?id :where [?e "${ID_ATTR}" ?id]]`, this.db));
	}

	// {ok: true, value} or {ok: false, error}
	run(q) {
		const ds = datascript(), text = renderQuery(q, 'ds'), args = dsArgs(q);
		runner.job = () => ds.q(text, this.db, ...args);
		try {
			return { ok: true, value: callJob.runInContext(runner, { timeout: limits.timeoutMs }) };
		} catch (e) {
			if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { ok: false, timeout: true, error: `no answer in ${limits.timeoutMs / 1000} s` };
			return { ok: false, error: String(e && e.message || e).split('\n')[0] };
		} finally {
			runner.job = null;
		}
	}

	// The query's answer, plus, for scalar and tuple find specs, the answer to
	// the same query as a relation (what datalite's single row must be in).
	answer(q) {
		const res = this.run(q);
		const rel = (q.spec === 'scalar' || q.spec === 'tuple') && !res.timeout ? this.run(asRelation(q)) : null;
		return { res, rel };
	}
}

module.exports = { DsDb, version, limits };
