'use strict';
// DataScript's side: the same database built through its JS API, queries
// run with d.q(text, db, ...inputs).
const path = require('path');
const { dsSchema, dsTx, renderQuery, asRelation, ID_ATTR } = require('./gen');
const { toJs } = require('./edn');

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
		try {
			return { ok: true, value: datascript().q(renderQuery(q, 'ds'), this.db, ...q.args.map(toJs)) };
		} catch (e) {
			return { ok: false, error: String(e && e.message || e).split('\n')[0] };
		}
	}

	// The query's answer, plus, for scalar and tuple find specs, the answer to
	// the same query as a relation (what datalite's single row must be in).
	answer(q) {
		const res = this.run(q);
		const rel = q.spec === 'scalar' || q.spec === 'tuple' ? this.run(asRelation(q)) : null;
		return { res, rel };
	}
}

module.exports = { DsDb, version };
