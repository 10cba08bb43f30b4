/*
 * The public database API: handles over the store, transactions through
 * the transaction processor, snapshots with views, raw datoms, schema,
 * statistics and check.  Thin on purpose: the semantics live in
 * src/storage and src/tx; this file turns ids into names and states
 * lifetimes.
 */
#include "api/api_int.h"

#include "value/value.h"

#include <stdio.h>
#include <string.h>

/* ---- databases ----------------------------------------------------------- */

int dl_db_open(dl_db **out, const char *path, const dl_db_opts *opts)
{
	assert(out && path);
	static const dl_db_opts dflt = DL_DB_OPTS_INIT;
	if (!opts)
		opts = &dflt;
	*out = NULL;
	dl_store_opts so = DL_STORE_OPTS_INIT;
	so.read_only = opts->read_only;
	so.create = opts->create && !opts->read_only;
	so.map_size = opts->map_size;
	so.sync = opts->sync;
	so.writemap = opts->writemap;
	dl_db *db = dl_calloc(1, sizeof *db);
	if (!db)
		return DL_ENOMEM;
	int rc = dl_store_open(&db->store, path, &so);
	if (rc < 0) {
		dl_free(db);
		return rc;
	}
	*out = db;
	return 0;
}

void dl_db_close(dl_db *db)
{
	if (!db)
		return;
	dl_store_close(db->store);
	dl_free(db);
	dl_block_cache_trim(); /* the blocks queries left for the next ones */
}

const char *dl_db_path(const dl_db *db) { return dl_store_path(db->store); }

dl_store *dl_db_store(dl_db *db) { return db->store; }

dl_value dl_api_attr_value(const dl_schema *s, int64_t a)
{
	uint32_t kw = s ? dl_schema_ident(s, a) : 0;
	if (!kw)
		return dl_int(a);
	dl_value v = dl_nil();
	v.type = DL_KEYWORD;
	v.u.id = kw;
	return v;
}

/* ---- transactions ---------------------------------------------------------- */

/* An attribute's ident as it was before the transaction. */
typedef struct attr_name {
	int64_t id;
	uint32_t kw;
} attr_name;

struct dl_tx_result {
	dl_arena arena;
	int64_t tx, basis;
	dl_tx_tempid *tempids;
	size_t ntempids;
	dl_datom *datoms; /* the report's, in arena */
	size_t ndatoms;
	attr_name *names; /* before the first transaction of the call, sorted by id */
	size_t nnames;
	/* the idents the transactions before this one in the same call
	 * asserted, in order (the last one of an id wins) */
	const attr_name *earlier;
	size_t nearlier;
	/* the idents this transaction asserts (in order; the last one of an id
	 * wins), so naming a datom's attribute never scans the datoms */
	const attr_name *own;
	size_t nown;
};

/* Everything a result needs is in place before the transaction commits,
 * so a commit is never followed by a failure: the attribute names are
 * copied, in the transaction processor's before-commit hook, from the
 * schema the first transaction started from, with the idents asserted by
 * the transactions of the same call; a transaction's own new idents are
 * found among its datoms. */
static int names_from_schema(attr_name **out, size_t *nout, dl_arena *a, const dl_schema *sch)
{
	const dl_attr *at;
	size_t n = sch ? dl_schema_attrs(sch, &at) : 0;
	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	attr_name *names = DL_ARENA_NEW(a, n, attr_name);
	if (!names)
		return DL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		names[i].id = at[i].id;
		names[i].kw = at[i].ident;
	}
	*out = names;
	*nout = n;
	return 0;
}

static bool is_ident_add(const dl_datom *d)
{
	return d->a == DL_A_IDENT && d->added && d->v.type == DL_KEYWORD;
}

static uint32_t result_attr_kw(const dl_tx_result *r, int64_t a)
{
	for (size_t i = r->nown; i-- > 0;)
		if (r->own[i].id == a)
			return r->own[i].kw;
	for (size_t i = r->nearlier; i-- > 0;)
		if (r->earlier[i].id == a)
			return r->earlier[i].kw;
	size_t lo = 0, hi = r->nnames;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->names[mid].id < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nnames && r->names[lo].id == a ? r->names[lo].kw : 0;
}

/* Results to fill before the commit: items[0..n), names in `arena`. */
typedef struct fill_ctx {
	dl_tx_result *items;
	dl_arena *arena;
} fill_ctx;

static int fill_results(void *ud, const dl_schema *before, const dl_tx_report *reps, size_t n)
{
	fill_ctx *c = ud;
	attr_name *names, *earlier = NULL;
	size_t nnames, nidents = 0, ne = 0;
	DL_TRY(names_from_schema(&names, &nnames, c->arena, before));
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < reps[k].ndatoms; i++)
			nidents += is_ident_add(&reps[k].datoms[i]);
	/* every transaction's idents in order: transaction k's own are a
	 * slice, and the ones before it are `earlier` */
	if (nidents && !(earlier = DL_ARENA_NEW(c->arena, nidents, attr_name)))
		return DL_ENOMEM;
	for (size_t k = 0; k < n; k++) {
		dl_tx_result *r = &c->items[k];
		r->tx = reps[k].tx;
		r->basis = reps[k].basis_before;
		r->tempids = reps[k].tempids;
		r->ntempids = reps[k].ntempids;
		r->datoms = reps[k].datoms;
		r->ndatoms = reps[k].ndatoms;
		r->names = names;
		r->nnames = nnames;
		r->earlier = earlier;
		r->nearlier = ne;
		r->own = earlier ? earlier + ne : NULL;
		for (size_t i = 0; i < reps[k].ndatoms; i++) {
			const dl_datom *d = &reps[k].datoms[i];
			if (is_ident_add(d))
				earlier[ne++] = (attr_name){d->e, d->v.u.id};
		}
		r->nown = ne - r->nearlier;
	}
	return 0;
}

/* Run tx_datas[0..n) through the processor; the reports and names go to
 * `arena`, the results to items[0..n) (NULL: none wanted). */
static int run_many(dl_tx_result *items, dl_arena *arena, dl_db *db, const dl_value *tx_datas,
		    size_t n, const char *source, const char *const *sources)
{
	dl_arena scratch = DL_ARENA_INIT;
	dl_tx_report one, *reps = &one;
	if (n > 1 && !(reps = DL_ARENA_NEW(items ? arena : &scratch, n, dl_tx_report)))
		return DL_ENOMEM;
	dl_tx_opts o = DL_TX_OPTS_INIT;
	if (source)
		o.source = source;
	o.sources = sources;
	fill_ctx fc = {items, arena};
	if (items) {
		o.before_commit = fill_results;
		o.ud = &fc;
	}
	int rc = dl_tx_run_many(reps, items ? arena : &scratch, db->store, tx_datas, n, &o);
	dl_arena_free(&scratch);
	return rc;
}

static int run_tx(dl_tx_result **out, dl_db *db, const dl_value *data, const char *source)
{
	dl_tx_result *r = dl_calloc(1, sizeof *r);
	if (!r)
		return DL_ENOMEM;
	int rc = run_many(out ? r : NULL, &r->arena, db, data, 1, source, NULL);
	if (rc < 0 || !out) {
		dl_tx_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int dl_db_transact_value(dl_tx_result **out, dl_db *db, const dl_value *tx_data,
			 const char *source)
{
	assert(db && tx_data);
	if (out)
		*out = NULL;
	return run_tx(out, db, tx_data, source ? source : "<tx-data>");
}

void dl_api_skip_ws(dl_edn_reader *r)
{
	/* the reader's own whitespace rules: blanks, commas and ; comments */
	while (r->pos < r->len) {
		unsigned char c = (unsigned char)r->text[r->pos];
		if (c == ';') {
			while (r->pos < r->len && r->text[r->pos] != '\n')
				r->pos++;
			continue;
		}
		if (c != ' ' && c != ',' && c != '\n' && c != '\t' && c != '\r' && c != '\f' &&
		    c != '\v')
			break;
		if (c == '\n') {
			r->line++;
			r->col = 1;
		} else {
			r->col++;
		}
		r->pos++;
	}
}

int dl_db_transact(dl_tx_result **out, dl_db *db, const char *edn, size_t len,
		   const char *source)
{
	assert(db && (edn || !len));
	if (out)
		*out = NULL;
	if (!source)
		source = "<tx-data>";
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	eo.source = source;
	dl_edn_reader r;
	dl_edn_reader_init(&r, edn, len, &eo);
	dl_api_skip_ws(&r);
	unsigned line = r.line, col = r.col;
	dl_arena a = DL_ARENA_INIT;
	dl_value v, extra;
	char src[512];
	int rc = dl_edn_reader_next(&r, &v, &a);
	if (rc == DL_ENOTFOUND) {
		rc = dl_error(DL_EINVAL, "%s:%u:%u: no tx-data (expected a vector of tx forms)",
			      source, line, col);
		goto out;
	}
	if (rc < 0)
		goto out;
	unsigned l2 = r.line, c2 = r.col;
	rc = dl_edn_reader_next(&r, &extra, &a);
	if (rc == 0) {
		rc = dl_error(DL_EINVAL,
			      "%s:%u:%u: more than one form; a transaction is one vector of "
			      "tx forms", source, l2, c2);
		goto out;
	}
	if (rc != DL_ENOTFOUND)
		goto out;
	/* tx errors then read "source:line:col: problem in form" like the
	 * reader's own */
	snprintf(src, sizeof src, "%s:%u:%u", source, line, col);
	rc = run_tx(out, db, &v, src);
out:
	dl_arena_free(&a);
	return rc;
}

/* ---- several transactions, all or none ------------------------------------ */

struct dl_tx_results {
	dl_arena arena; /* the items, their reports and names */
	dl_tx_result *items;
	size_t n;
};

int dl_db_transact_many_values(dl_tx_results **out, dl_db *db, const dl_value *tx_datas,
			       size_t n, const char *const *sources)
{
	assert(db && (tx_datas || !n));
	if (out)
		*out = NULL;
	dl_tx_results *rs = dl_calloc(1, sizeof *rs);
	if (!rs)
		return DL_ENOMEM;
	int rc = 0;
	if (out && n) {
		/* the items' own arenas stay empty: all lives in rs->arena */
		if ((rs->items = DL_ARENA_NEW(&rs->arena, n, dl_tx_result)))
			memset(rs->items, 0, n * sizeof *rs->items);
		else
			rc = DL_ENOMEM;
	}
	if (rc == 0 && n)
		rc = run_many(rs->items, &rs->arena, db, tx_datas, n, NULL, sources);
	if (rc < 0 || !out) {
		dl_tx_results_free(rs);
		return rc;
	}
	rs->n = n;
	*out = rs;
	return 0;
}

int dl_db_transact_many(dl_tx_results **out, dl_db *db, const char *edn, size_t len,
			const char *source)
{
	assert(db && (edn || !len));
	if (out)
		*out = NULL;
	if (!source)
		source = "<tx-data>";
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	eo.source = source;
	dl_edn_reader r;
	dl_edn_reader_init(&r, edn, len, &eo);
	dl_arena a = DL_ARENA_INIT;
	dl_value *vals = NULL;
	const char **srcs = NULL;
	size_t n = 0, cap = 0;
	int rc;
	/* every vector is read (and checked to be one) before anything runs */
	for (;;) {
		dl_api_skip_ws(&r);
		unsigned line = r.line, col = r.col;
		dl_value v;
		if ((rc = dl_edn_reader_next(&r, &v, &a)) == DL_ENOTFOUND) {
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out;
		if (v.type != DL_VECTOR && v.type != DL_LIST) {
			rc = dl_error(DL_EINVAL, "%s:%u:%u: tx-data must be a vector of tx forms",
				      source, line, col);
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			dl_value *nv = dl_realloc(vals, nc * sizeof *nv);
			if (!nv) {
				rc = DL_ENOMEM;
				goto out;
			}
			vals = nv;
			const char **ns = dl_realloc(srcs, nc * sizeof *ns);
			if (!ns) {
				rc = DL_ENOMEM;
				goto out;
			}
			srcs = ns;
			cap = nc;
		}
		/* messages then read "source:line:col: ..." like the reader's own */
		char where[64];
		int wl = snprintf(where, sizeof where, ":%u:%u", line, col);
		size_t sl = strlen(source);
		char *src = dl_arena_alloc(&a, sl + (size_t)wl + 1);
		if (!src) {
			rc = DL_ENOMEM;
			goto out;
		}
		memcpy(src, source, sl);
		memcpy(src + sl, where, (size_t)wl + 1);
		vals[n] = v;
		srcs[n++] = src;
	}
	rc = dl_db_transact_many_values(out, db, vals, n, srcs);
out:
	dl_free(vals);
	dl_free(srcs);
	dl_arena_free(&a);
	return rc;
}

size_t dl_tx_results_count(const dl_tx_results *rs) { return rs->n; }

const dl_tx_result *dl_tx_results_get(const dl_tx_results *rs, size_t i)
{
	assert(i < rs->n);
	return &rs->items[i];
}

void dl_tx_results_free(dl_tx_results *rs)
{
	if (!rs)
		return;
	dl_arena_free(&rs->arena);
	dl_free(rs);
}

int64_t dl_tx_result_tx(const dl_tx_result *r) { return r->tx; }
int64_t dl_tx_result_basis(const dl_tx_result *r) { return r->basis; }
size_t dl_tx_result_ntempids(const dl_tx_result *r) { return r->ntempids; }
size_t dl_tx_result_ndatoms(const dl_tx_result *r) { return r->ndatoms; }

dl_value dl_tx_result_tempid(const dl_tx_result *r, size_t i, int64_t *e)
{
	assert(i < r->ntempids);
	if (e)
		*e = r->tempids[i].e;
	return r->tempids[i].tempid;
}

int64_t dl_tx_result_entid(const dl_tx_result *r, const char *tempid)
{
	size_t n = strlen(tempid);
	for (size_t i = 0; i < r->ntempids; i++) {
		const dl_value *t = &r->tempids[i].tempid;
		if (t->type == DL_STRING && t->len == n && memcmp(t->u.s, tempid, n) == 0)
			return r->tempids[i].e;
	}
	return 0;
}

dl_db_datom dl_tx_result_datom(const dl_tx_result *r, size_t i)
{
	assert(i < r->ndatoms);
	const dl_datom *d = &r->datoms[i];
	dl_db_datom o;
	o.e = d->e;
	uint32_t kw = result_attr_kw(r, d->a);
	o.a = dl_int(d->a);
	if (kw) {
		o.a.type = DL_KEYWORD;
		o.a.u.id = kw;
	}
	o.aid = d->a;
	o.v = d->v;
	o.tx = d->tx;
	o.added = d->added;
	return o;
}

void dl_tx_result_free(dl_tx_result *r)
{
	if (!r)
		return;
	dl_arena_free(&r->arena);
	dl_free(r);
}

/* ---- snapshots ---------------------------------------------------------- */

/* The first transaction whose :db/txInstant is after `ms`, or 0. */
static int tx_after(int64_t *out, dl_snap *snap, int64_t ms)
{
	dl_iter *it;
	dl_view cur = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d;
	pre.a = DL_A_TX_INSTANT;
	*out = 0;
	DL_TRY(dl_iter_open(&it, snap, DL_AVET, &cur, &pre, 1));
	dl_value lo = dl_inst(ms);
	int rc = dl_iter_value_range(it, &lo, false, NULL, false);
	if (rc == 0)
		rc = dl_iter_next(it, &d);
	if (rc > 0)
		*out = d.e;
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

int dl_api_resolve_view(dl_view *out, dl_snap *snap, const dl_db_view *v)
{
	out->t = 0;
	switch (v->kind) {
	case DL_DB_CURRENT: out->kind = DL_VIEW_CURRENT; return 0;
	case DL_DB_HISTORY: out->kind = DL_VIEW_HISTORY; return 0;
	case DL_DB_AS_OF: out->kind = DL_VIEW_AS_OF; break;
	case DL_DB_SINCE: out->kind = DL_VIEW_SINCE; break;
	default: return dl_error(DL_EINVAL, "unknown view kind %d", (int)v->kind);
	}
	int64_t basis = dl_snap_basis_tx(snap);
	if (v->t_is_inst) {
		/* transactions are numbered in commit order and their instants
		 * never go back, so the last one at or before ms is the one
		 * before the first one after it */
		int64_t after;
		DL_TRY(tx_after(&after, snap, v->t));
		if (!after)
			out->t = basis;
		else
			out->t = DL_EID_NUM(after) > 1 ? after - 1 : 0;
		return 0;
	}
	if (v->t < 0)
		return dl_error(DL_EINVAL, "bad transaction %lld", (long long)v->t);
	if (DL_EID_PART(v->t) == DL_PART_TX)
		out->t = v->t;
	else if (DL_EID_PART(v->t) == 0)
		out->t = v->t ? DL_EID(DL_PART_TX, v->t) : 0;
	else
		return dl_error(DL_EINVAL, "%lld is not a transaction", (long long)v->t);
	return 0;
}

int dl_db_snapshot(dl_snapshot **out, dl_db *db, const dl_db_view *view)
{
	assert(out && db);
	static const dl_db_view cur = DL_DB_VIEW_INIT;
	if (!view)
		view = &cur;
	*out = NULL;
	dl_snapshot *s = dl_calloc(1, sizeof *s);
	if (!s)
		return DL_ENOMEM;
	s->db = db;
	int rc = dl_snap_begin(&s->snap, db->store);
	if (rc < 0)
		goto fail;
	if ((rc = dl_api_resolve_view(&s->view, s->snap, view)) < 0)
		goto fail;
	if ((rc = dl_schema_get(&s->schema, s->snap)) < 0)
		goto fail;
	s->pview = *view;
	s->pview.t = s->view.t;
	s->pview.t_is_inst = false;
	*out = s;
	return 0;
fail:
	dl_snap_end(s->snap);
	dl_free(s);
	return rc;
}

void dl_snapshot_end(dl_snapshot *s)
{
	if (!s)
		return;
	dl_snap_end(s->snap);
	dl_arena_free(&s->arena);
	dl_free(s);
}

int64_t dl_snapshot_basis(const dl_snapshot *s) { return dl_snap_basis_tx(s->snap); }
dl_db_view dl_snapshot_view(const dl_snapshot *s) { return s->pview; }
dl_snap *dl_snapshot_snap(dl_snapshot *s) { return s->snap; }
const dl_schema *dl_snapshot_schema(dl_snapshot *s) { return s->schema; }
dl_view dl_snapshot_store_view(const dl_snapshot *s) { return s->view; }

/* The view lookups go through: a history snapshot resolves names in the
 * current state. */
static dl_view lookup_view(const dl_snapshot *s)
{
	dl_view v = s->view;
	if (v.kind == DL_VIEW_HISTORY)
		v.kind = DL_VIEW_CURRENT;
	return v;
}

/* An attribute named by keyword or id: its schema entry or DL_ENOTFOUND. */
static int attr_of(const dl_attr **out, dl_snapshot *s, const dl_value *v)
{
	char buf[160];
	int64_t id = 0;
	if (v->type == DL_KEYWORD)
		id = dl_schema_entid(s->schema, v->u.id);
	else if (v->type == DL_INT || v->type == DL_REF)
		id = v->u.i;
	else
		return dl_error(DL_EINVAL, "an attribute is a keyword or an id");
	*out = id > 0 ? dl_schema_attr(s->schema, id) : NULL;
	if (*out)
		return 0;
	dl_buf b = DL_BUF_INIT;
	if (dl_edn_print(&b, v) == 0)
		snprintf(buf, sizeof buf, "%s", b.data);
	else
		snprintf(buf, sizeof buf, "?");
	dl_buf_free(&b);
	return dl_error(DL_ENOTFOUND, "unknown attribute %s", buf);
}

/* [e a v] lookups through AVET for a lookup ref. */
static int avet_first(int64_t *out, dl_snapshot *s, int64_t a, const dl_value *v)
{
	dl_iter *it;
	dl_view view = lookup_view(s);
	dl_datom pre = {0}, d;
	pre.a = a;
	pre.v = *v;
	*out = 0;
	DL_TRY(dl_iter_open(&it, s->snap, DL_AVET, &view, &pre, 2));
	int rc = dl_iter_next(it, &d);
	if (rc > 0)
		*out = d.e;
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

/* A value for attribute `at`: a ref attribute takes an entity reference. */
static int value_for(dl_value *out, bool *none, dl_snapshot *s, const dl_attr *at,
		     const dl_value *v);

int dl_snapshot_entid(int64_t *out, dl_snapshot *s, const dl_value *ref)
{
	assert(out && s && ref);
	*out = 0;
	switch (ref->type) {
	case DL_INT:
	case DL_REF:
		if (ref->u.i < 0)
			return dl_error(DL_EINVAL, "bad entity id %lld", (long long)ref->u.i);
		*out = ref->u.i;
		return 0;
	case DL_KEYWORD:
		*out = dl_schema_entid(s->schema, ref->u.id);
		return 0;
	case DL_VECTOR:
	case DL_LIST: {
		if (ref->len != 2)
			break;
		const dl_attr *at;
		DL_TRY(attr_of(&at, s, &ref->u.items[0]));
		if (at->unique == DL_UNIQUE_NONE)
			return dl_error(DL_EINVAL, "lookup ref: the attribute is not :db/unique");
		dl_value v;
		bool none;
		DL_TRY(value_for(&v, &none, s, at, &ref->u.items[1]));
		if (none)
			return 0;
		return avet_first(out, s, at->id, &v);
	}
	default:
		break;
	}
	return dl_error(DL_EINVAL,
			"an entity is an id, an ident keyword or a lookup ref [attribute value]");
}

static int value_for(dl_value *out, bool *none, dl_snapshot *s, const dl_attr *at,
		     const dl_value *v)
{
	*none = false;
	if (at->vtype != DL_VT_REF) {
		*out = *v;
		return 0;
	}
	int64_t e;
	DL_TRY(dl_snapshot_entid(&e, s, v));
	*none = e == 0;
	*out = dl_ref(e);
	return 0;
}

/* ---- datoms --------------------------------------------------------------- */

struct dl_datoms {
	dl_snapshot *s;
	dl_iter *it; /* NULL: nothing matches */
	dl_db_datom d;
	int64_t last_a;
	dl_value last_kw;
};

int dl_db_datoms(dl_datoms **out, dl_snapshot *s, dl_db_index idx,
		 const dl_value *components, size_t n)
{
	assert(out && s && (components || !n));
	*out = NULL;
	if ((unsigned)idx > DL_DB_VAET || n > 4)
		return dl_error(DL_EINVAL, "bad index or too many components");
	static const char order[4][5] = {"EAVT", "AEVT", "AVET", "VAET"};
	dl_datom pre;
	memset(&pre, 0, sizeof pre);
	bool empty = false;
	const dl_attr *at = NULL;
	/* the attribute first: a value's meaning depends on it */
	for (size_t i = 0; i < n; i++)
		if (order[idx][i] == 'A') {
			DL_TRY(attr_of(&at, s, &components[i]));
			pre.a = at->id;
		}
	for (size_t i = 0; i < n && !empty; i++) {
		const dl_value *c = &components[i];
		int64_t e;
		bool none;
		switch (order[idx][i]) {
		case 'E':
			DL_TRY(dl_snapshot_entid(&e, s, c));
			pre.e = e;
			empty = e == 0;
			break;
		case 'V':
			if (idx == DL_DB_VAET) {
				DL_TRY(dl_snapshot_entid(&e, s, c));
				pre.v = dl_ref(e);
				empty = e == 0;
			} else {
				DL_TRY(value_for(&pre.v, &none, s, at, c));
				empty = none;
			}
			break;
		case 'T':
			if (c->type != DL_INT && c->type != DL_REF)
				return dl_error(DL_EINVAL, "a tx component is a transaction id");
			pre.tx = c->u.i;
			break;
		default:
			break;
		}
	}
	dl_datoms *it = dl_calloc(1, sizeof *it);
	if (!it)
		return DL_ENOMEM;
	it->s = s;
	it->last_a = -1;
	if (!empty) {
		dl_index sidx = (dl_index)idx; /* same order as storage's */
		int rc = dl_iter_open(&it->it, s->snap, sidx, &s->view, &pre, (int)n);
		if (rc < 0) {
			dl_free(it);
			return rc;
		}
	}
	*out = it;
	return 0;
}

int dl_datoms_next(dl_datoms *it, const dl_db_datom **d)
{
	assert(it && d);
	if (!it->it)
		return 0;
	dl_datom x;
	int rc = dl_iter_next(it->it, &x);
	if (rc <= 0)
		return rc;
	if (x.a != it->last_a) {
		it->last_a = x.a;
		it->last_kw = dl_api_attr_value(it->s->schema, x.a);
	}
	it->d.e = x.e;
	it->d.a = it->last_kw;
	it->d.aid = x.a;
	it->d.v = x.v;
	it->d.tx = x.tx;
	it->d.added = x.added;
	*d = &it->d;
	return 1;
}

void dl_datoms_close(dl_datoms *it)
{
	if (!it)
		return;
	dl_iter_close(it->it);
	dl_free(it);
}

/* ---- schema and statistics ------------------------------------------------ */

static int keyword_value(dl_value *out, const char *name)
{
	return dl_keyword(out, name, strlen(name));
}

static int attr_doc(dl_snapshot *s, int64_t a, dl_value *out)
{
	dl_iter *it;
	dl_view cur = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d;
	pre.e = a;
	pre.a = DL_A_DOC;
	*out = dl_nil();
	DL_TRY(dl_iter_open(&it, s->snap, DL_EAVT, &cur, &pre, 2));
	int rc = dl_iter_next(it, &d);
	if (rc > 0 && d.v.type == DL_STRING)
		rc = dl_value_copy(out, &s->arena, &d.v);
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

static const char *const k_vtype_names[DL_VT_COUNT] = {
	NULL, "db.type/string", "db.type/long", "db.type/double", "db.type/boolean",
	"db.type/instant", "db.type/keyword", "db.type/ref", "db.type/uuid",
	"db.type/bytes", "db.type/tuple", "db.type/symbol",
};

int dl_snapshot_attrs(const dl_db_attr **out, size_t *n, dl_snapshot *s)
{
	assert(out && n && s);
	if (s->attrs) {
		*out = s->attrs;
		*n = s->nattrs;
		return 0;
	}
	const dl_attr *sa;
	size_t na = dl_schema_attrs(s->schema, &sa);
	dl_db_attr *v = na ? DL_ARENA_NEW(&s->arena, na, dl_db_attr) : NULL;
	if (na && !v)
		return DL_ENOMEM;
	for (size_t i = 0; i < na; i++) {
		const dl_attr *a = &sa[i];
		dl_db_attr *o = &v[i];
		memset(o, 0, sizeof *o);
		o->id = a->id;
		o->ident = dl_api_attr_value(s->schema, a->id);
		o->value_type = dl_nil();
		if (a->vtype > DL_VT_ANY && a->vtype < DL_VT_COUNT)
			DL_TRY(keyword_value(&o->value_type, k_vtype_names[a->vtype]));
		DL_TRY(attr_doc(s, a->id, &o->doc));
		o->many = a->many;
		o->component = a->component;
		o->no_history = a->nohistory;
		o->indexed = a->indexed;
		o->declared = a->declared;
		o->builtin = a->id <= DL_A_BUILTIN_LAST;
		o->unique = a->unique == DL_UNIQUE_IDENTITY ? DL_DB_UNIQUE_IDENTITY
			  : a->unique == DL_UNIQUE_VALUE  ? DL_DB_UNIQUE_VALUE
							  : DL_DB_UNIQUE_NONE;
		dl_attr_stats st;
		DL_TRY(dl_snap_attr_stats(s->snap, a->id, &st));
		o->datoms = st.datoms;
		o->values = st.values;
		o->entities = st.entities;
	}
	s->attrs = v;
	s->nattrs = na;
	*out = v;
	*n = na;
	return 0;
}

int dl_snapshot_stat(dl_db_stat *out, dl_snapshot *s)
{
	assert(out && s);
	dl_store_stats st;
	memset(out, 0, sizeof *out);
	DL_TRY(dl_snap_stats(s->snap, &st));
	out->datoms = st.datoms;
	out->history = st.history;
	out->transactions = st.transactions;
	out->file_bytes = st.file_bytes;
	out->basis = dl_snap_basis_tx(s->snap);
	return 0;
}

int dl_db_stats(dl_db_stat *out, dl_db *db)
{
	assert(out && db);
	dl_snapshot *s;
	DL_TRY(dl_db_snapshot(&s, db, NULL));
	int rc = dl_snapshot_stat(out, s);
	dl_snapshot_end(s);
	return rc;
}

int dl_db_check(dl_db *db, void (*report)(void *ud, const char *problem), void *ud)
{
	assert(db);
	return dl_store_check(db->store, report, ud);
}
